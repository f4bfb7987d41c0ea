"""The supervisor process of one lab: builds the network, starts the stages, keeps them running.

`fip-lab up` starts it detached (`python -m lab.cluster.daemon RUN_DIR`) and waits for
`state.json` to say `up` or `failed`; `--foreground` runs it in place. It reads everything from
the state `up` wrote (config path, prefix, ports), so its only argument is the run directory.

Phases in state.json: starting -> up -> stopping -> down, or starting -> failed (the error says
which component did not come up, with its log tail; everything made so far is already removed).
While up it rewrites the state every second with each component's PID, restarts and health
probe, which `fip-lab status` reads. SIGTERM / SIGINT: stop every component (reverse order),
delete every namespace of the prefix, phase `down`, exit 0.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from fip.core.errors import FipError
from fip.kube.client import KubeClient
from lab.cluster import bootstrap, config, topology
from lab.cluster.errors import ComponentFailed, LabError
from lab.cluster.plan import Spec, plan, probe_of, store_url
from lab.cluster.rundir import RunDir
from lab.cluster.supervisor import Component, Supervisor, start_time

STAGES = ("redis and the API server", "extender, controllers, fipd and legacy hosts",
          "scheduler, workload controllers and kubelets")  # fmt: skip
STAGE_TIMEOUT = 90.0


class Stopped(Exception):
    """SIGTERM / SIGINT arrived while starting."""


def _pre(argv: list[str] | None, log: Path) -> Callable[[], None] | None:
    if argv is None:
        return None

    def run() -> None:
        with log.open("ab") as out:
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=60, check=False)
        if done.returncode != 0:
            raise OSError(f"{' '.join(argv[:2])} failed with exit code {done.returncode} (see {log})")

    return run


def _snapshot(sup: Supervisor, specs: list[Spec]) -> dict[str, object]:
    out: dict[str, object] = {}
    for s in specs:
        c = sup.components[s.name]
        out[s.name] = {
            "pid": c.proc.pid if c.proc is not None else None,
            "start": start_time(c.proc.pid) if c.proc is not None else None,
            "restarts": c.restarts,
            "last_exit": c.last_exit,
            "probe": s.probe,
            "stage": s.stage,
            "log": str(sup.logs / f"{s.name}.log"),
        }
    return out


def supervise(run: RunDir) -> int:
    state = run.read() or {}
    stop: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def check_stop() -> None:
        if stop:
            raise Stopped

    cfg = config.load(state["config"])
    ports: dict[str, int] = state["ports"]
    sup = Supervisor(run.root)
    specs: list[Spec] = []
    try:
        with topology.build(cfg, state["prefix"]) as fabric:
            try:
                bootstrap.whitelists(cfg, run)
                specs = plan(cfg, run, ports, fabric.node_netns, fabric.legacy_netns)
                for s in specs:
                    sup.add(Component(s.name, s.argv, probe_of(s.probe), s.env, _pre(s.pre, run.log(s.name))))
                for stage, what in enumerate(STAGES):
                    names = [s.name for s in specs if s.stage == stage]
                    run.update(
                        progress=f"stage {stage + 1}/{len(STAGES)}: {what}", components=_snapshot(sup, specs)
                    )
                    for name in names:
                        check_stop()
                        sup.start(name)
                    problems = sup.wait_healthy(names, STAGE_TIMEOUT, tick=check_stop)
                    if problems:
                        raise ComponentFailed(_failure(run, problems))
                    if stage == 0:
                        bootstrap.init_store(cfg, run, store_url(cfg, ports))
                        bootstrap.apply_resources(cfg, KubeClient(str(run.kubeconfig)))
                run.update(phase="up", progress="up", components=_snapshot(sup, specs))
                print(f"lab {state['prefix']} up", flush=True)
                applied = sup.components["apiserver"].restarts
                while not stop:
                    sup.tick()
                    applied = _reapply(sup, cfg, run, applied)
                    run.update(components=_snapshot(sup, specs), events=sup.events[-50:])
                    time.sleep(0.5)
                run.update(phase="stopping")
            finally:
                sup.stop_all()
    except Stopped:
        run.update(phase="down", progress="stopped while starting")
        return 0
    except (FipError, OSError, KeyError) as err:
        message = str(err) if isinstance(err, LabError | FipError) else f"{type(err).__name__}: {err}"
        run.update(phase="failed", error=message, components=_snapshot(sup, specs) if specs else {})
        print(f"fip-lab up failed: {message}", file=sys.stderr, flush=True)
        return 1
    run.update(phase="down", progress="down")
    return 0


def _reapply(sup: Supervisor, cfg: config.LabConfig, run: RunDir, applied: int) -> int:
    """The lab API server keeps its objects in memory: once a restarted one is healthy, apply the
    Subnet and Pool CRs again (the kubelets register their Nodes again by themselves). Returns
    the restart count the CRs were last applied for."""
    restarts = sup.components["apiserver"].restarts
    if restarts == applied or sup.health("apiserver") is not None:
        return applied
    try:
        bootstrap.apply_resources(cfg, KubeClient(str(run.kubeconfig)))
    except FipError as err:
        print(f"re-applying the CRs to the restarted API server: {err}", flush=True)
        return applied
    print("the restarted API server has the Subnet and Pool CRs again", flush=True)
    return restarts


def _failure(run: RunDir, problems: dict[str, str]) -> str:
    parts = []
    for name, problem in problems.items():
        tail = run.log_tail(name, 8)
        parts.append(
            f"{name}: {problem}"
            + (f"\n  log {run.log(name)}:\n    " + tail.replace("\n", "\n    ") if tail else "")
        )
    return "component(s) did not come up:\n" + "\n".join(parts)


if __name__ == "__main__":
    sys.exit(supervise(RunDir(Path(sys.argv[1]))))
