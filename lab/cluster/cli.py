"""`fip-lab up / status / down`: the whole fip system on this machine.

    fip-lab up [--config FILE] [--run-dir DIR] [--allow-missing] [--foreground] [--timeout S]
    fip-lab status [--run-dir DIR] [-o json]
    fip-lab check [--run-dir DIR]
    fip-lab down [--run-dir DIR] [--purge]

`up` checks the config and the machine first (a bad config or a missing privilege is reported
before anything exists; exit 2), writes `<run>/state.json`, starts the supervisor
(`lab.cluster.daemon`) detached and waits until it reports the system up (exit 0, with the
kubeconfig to use) or failed (exit 1, with the component and its log tail; what was made is
already removed). `status` probes every component (PID alive, its health endpoint); exit 0
when all are healthy, 1 otherwise, 3 when no lab runs there. `check` checks the invariants from
outside (`lab.cluster.invariants` and `fipctl check`): exit 0 clean, 1 with every problem listed.
`down` removes everything (see
`lab.cluster.teardown`); exit 1 if something could not be removed, with the list.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from fip.core.errors import FipError
from lab.cluster import config, plan, preflight, teardown
from lab.cluster.health import free_port
from lab.cluster.rundir import RunDir, default_run_dir
from lab.cluster.supervisor import MARKER, marked_pids, same_process, start_time

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")


def _run_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run-dir", type=Path, default=None, help="where pids, logs, kubeconfig go (default "
                   f"{default_run_dir()}, env FIP_LAB_RUN_DIR)")  # fmt: skip


def up_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fip-lab up", description="start the whole fip system on this machine")
    p.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="lab config (YAML, see lab/cluster/config.py)"
    )
    _run_dir(p)
    p.add_argument(
        "--allow-missing", action="store_true", help="bring up what exists when parts are not built"
    )
    p.add_argument("--foreground", action="store_true", help="supervise in this process until Ctrl-C")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the system to come up")
    args = p.parse_args(argv)
    run = RunDir((args.run_dir or default_run_dir()).resolve())
    try:
        cfg = config.load(args.config)
        preflight.check(allow_missing=args.allow_missing)
    except FipError as err:
        print(f"fip-lab up: {err}", file=sys.stderr)
        return 2
    old = run.read() or {}
    if marked_pids(run.root) or old.get("phase") in ("starting", "up", "stopping"):
        print(f"fip-lab up: a lab is already running in {run.root} (phase {old.get('phase')}); "
              f"run `fip-lab down --run-dir {run.root}` first", file=sys.stderr)  # fmt: skip
        return 1
    for stale in (
        "logs",
        "pids",
        "nodes",
        "legacy",
        "redis",
        "redis-replica",
        "sentinel",
        "extender-metrics",
    ):
        shutil.rmtree(run.root / stale, ignore_errors=True)
    prefix = f"fl-{secrets.token_hex(3)}"
    ports = {name: free_port() for name in plan.port_names(cfg)}
    state = {
        "phase": "starting", "progress": "starting", "prefix": prefix, "config": str(args.config.resolve()),
        "ports": ports, "missing": plan.missing(), "redis_url": plan.store_url(cfg, ports),
        "created": datetime.now(UTC).isoformat(timespec="seconds"), "kubeconfig": str(run.kubeconfig),
        "bpf_dir": plan.bpf_dir(prefix),
    }  # fmt: skip
    run.write(state)
    if args.foreground:
        from lab.cluster.daemon import supervise

        run.update(supervisor_pid=os.getpid())
        os.environ[MARKER] = str(run.root)
        return supervise(run)
    run.mkdir("logs")
    with (run.root / "logs" / "supervisor.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab.cluster.daemon", str(run.root)], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, MARKER: str(run.root)},
        )  # fmt: skip
    run.update(supervisor_pid=proc.pid, supervisor_start=start_time(proc.pid))
    return _await(run, proc, args.timeout)


def _await(run: RunDir, proc: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        state = run.read() or {}
        phase, progress = state.get("phase"), str(state.get("progress", ""))
        if progress != shown and phase == "starting":
            print(f"fip-lab up: {progress}", flush=True)
            shown = progress
        if phase == "up":
            _summary(run, state)
            return 0
        if phase == "failed" or proc.poll() is not None:
            error = (
                state.get("error") or f"the supervisor exited ({proc.poll()}); see {run.log('supervisor')}"
            )
            print(f"fip-lab up: failed: {error}\nlogs: {run.root / 'logs'}; the supervisor removed what it "
                  f"made; `fip-lab down --run-dir {run.root}` sweeps anything left",
                  file=sys.stderr)  # fmt: skip
            return 1
        time.sleep(0.2)
    print(f"fip-lab up: not up after {timeout:g} s (still {run.read() or {}}.get('progress')); "
          f"`fip-lab status --run-dir {run.root}` shows what is missing", file=sys.stderr)  # fmt: skip
    return 1


def _summary(run: RunDir, state: dict[str, object]) -> None:
    comps = state.get("components") or {}
    assert isinstance(comps, dict)
    print(f"fip-lab up: {len(comps)} components running, namespaces {state['prefix']}-*, run dir {run.root}")
    for name in state.get("missing") or []:  # type: ignore[attr-defined]
        print(f"fip-lab up: NOT RUNNING (missing): {name}")
    print(f"export KUBECONFIG={run.kubeconfig}")


def rows(run: RunDir) -> list[dict[str, object]]:
    """One row per component: name, pid, restarts, health ("ok" or the problem)."""
    state = run.read() or {}
    out: list[dict[str, object]] = []
    for name, c in (state.get("components") or {}).items():
        pid = c.get("pid")
        if not same_process(pid, c.get("start")):
            health = f"not running (last exit {c.get('last_exit')})"
        else:
            probe = plan.probe_of(c.get("probe"))
            health = (probe() if probe is not None else None) or "ok"
        out.append({"name": name, "pid": pid, "restarts": c.get("restarts", 0), "health": health})
    return out


def status_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fip-lab status", description="health of every component of the lab")
    _run_dir(p)
    p.add_argument("-o", "--output", choices=["table", "json"], default="table")
    args = p.parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `fip-lab status | head` ends quietly (a one-shot)
    run = RunDir((args.run_dir or default_run_dir()).resolve())
    state = run.read()
    if state is None or state.get("phase") == "down":
        print(f"fip-lab status: no lab running in {run.root}", file=sys.stderr)
        return 3
    table = rows(run)
    sup_alive = "supervisor_start" not in state or same_process(
        state.get("supervisor_pid"), state["supervisor_start"]
    )
    if not sup_alive:
        state["progress"] = f"the supervisor (pid {state.get('supervisor_pid')}) is gone: run fip-lab down"
    healthy = sup_alive and state.get("phase") == "up" and all(r["health"] == "ok" for r in table)
    if args.output == "json":
        print(json.dumps({"phase": state.get("phase"), "prefix": state.get("prefix"), "healthy": healthy,
                          "missing": state.get("missing"), "components": table}, indent=1))  # fmt: skip
        return 0 if healthy else 1
    print(f"phase {state.get('phase')} ({state.get('progress')}), namespaces {state.get('prefix')}-*, "
          f"kubeconfig {run.kubeconfig}")  # fmt: skip
    if state.get("error"):
        print(f"error: {state['error']}")
    _where(run, state)
    print(f"{'COMPONENT':<22} {'PID':>7} {'RESTARTS':>8}  HEALTH")
    for r in table:
        print(f"{r['name']!s:<22} {r['pid']!s:>7} {r['restarts']!s:>8}  {r['health']}")
    for name in state.get("missing") or []:
        print(f"{'(missing)':<22} {'-':>7} {'-':>8}  {name}")
    return 0 if healthy else 1


def check_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="fip-lab check", description="check the fabric's invariants from outside"
    )
    _run_dir(p)
    args = p.parse_args(argv)
    run = RunDir((args.run_dir or default_run_dir()).resolve())
    state = run.read()
    if state is None or state.get("phase") != "up":
        print(f"fip-lab check: no lab up in {run.root}", file=sys.stderr)
        return 3
    from fip.kube.client import KubeClient
    from lab.cluster import invariants

    cfg = config.load(state["config"])
    problems = invariants.check(KubeClient(str(run.kubeconfig)), run, cfg)
    code, out = invariants.fipctl_check(run, invariants.redis_url(run))
    if code != 0:
        problems.append(f"fipctl check (exit {code}):\n{out.rstrip()}")
    for line in problems:
        print(f"PROBLEM: {line}")
    if not problems:
        print("ok: invariants hold (no IP held twice, every running pod plugged and reachable)")
        print(f"ok: fipctl check: {out.strip()}")
    return 1 if problems else 0


def _where(run: RunDir, state: dict[str, object]) -> None:
    """Where to look: the store, the legacy hosts (namespace, service, whitelist, decision log)."""
    print(f"store {state.get('redis_url')}")
    try:
        cfg = config.load(str(state["config"]))
    except (FipError, KeyError):
        return
    for s in cfg.subnets:
        if s.legacy is not None:
            name = s.subnet.name
            where = f"{s.legacy.address}:{s.legacy.port}"
            print(f"legacy host of {name}: netns {state.get('prefix')}-lh-{name}, {where}, "
                  f"whitelist {run.legacy_allow(name)}, log {run.legacy_decisions(name)}")  # fmt: skip


def down_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fip-lab down", description="stop the lab and remove everything it made")
    _run_dir(p)
    p.add_argument("--purge", action="store_true", help="remove the run directory too")
    args = p.parse_args(argv)
    run = RunDir((args.run_dir or default_run_dir()).resolve())
    try:
        done = teardown.down(run)
    except FipError as err:
        print(f"fip-lab down: {err}", file=sys.stderr)
        return 1
    for line in done:
        print(f"fip-lab down: {line}")
    if not done:
        print(f"fip-lab down: nothing running in {run.root}")
    if args.purge:
        shutil.rmtree(run.root, ignore_errors=True)
    return 0
