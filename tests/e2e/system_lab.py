"""The whole system under test: `fip-lab up` once per test module, `fip-lab down` after it.

    def test_x(system: System) -> None:
        system.kubectl("apply", "-f", "-", stdin=MANIFEST)
        pods = system.wait_pods("app=web", 2)
        system.assert_invariants()

The system is the real one (`lab.cluster`): Redis, the lab API server, fip-extender, one fipd per
node, the lab scheduler with deploy/kube-scheduler's configuration, the workload controllers,
a kubelet per node and fip-controllers, in the network of the default lab config
(lab/cluster/default.yaml). Every part must exist (no `--allow-missing`: a missing component
fails `up`, and with it the module). After `down` the fixture asserts
that no process, namespace or BPF pin of the lab is left.

Imported by the test_system_* modules beside it (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fip.kube.client import KubeClient
from fip.kube.resources import PODS
from lab.cluster import invariants, teardown
from lab.cluster.config import LabConfig
from lab.cluster.rundir import RunDir
from lab.wait import wait_for

FIP_LAB = Path(sys.executable).with_name("fip-lab")
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "lab" / "cluster" / "default.yaml"
KUBECTL = Path(sys.executable).with_name("kubectl")
NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true", reason="needs root (network namespaces)"
)
Obj = dict[str, Any]


class System:
    def __init__(self, run: RunDir) -> None:
        self.run = run
        state = run.read() or {}
        self.prefix = str(state["prefix"])
        self.cfg: LabConfig = invariants.config_of(run)
        self.client = KubeClient(str(run.kubeconfig))
        self.redis_url = invariants.redis_url(run)

    def kubectl(self, *argv: str, stdin: str | None = None, check: bool = True) -> str:
        run = subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(self.run.kubeconfig), *argv],
            input=stdin, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if check and run.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(argv)} failed ({run.returncode}): {run.stderr.strip()}")
        return run.stdout

    def pods(self, selector: str = "", namespace: str = "default") -> list[Obj]:
        items = self.client.list(PODS, namespace, label_selector=selector).get("items") or []
        return list(items)

    def wait_pods(
        self, selector: str, count: int, namespace: str = "default", timeout: float = 60
    ) -> list[Obj]:
        """Exactly `count` pods match, all Running and Ready with an IP; returns them by name."""

        def ready() -> list[Obj] | None:
            pods = [p for p in self.pods(selector, namespace) if not p["metadata"].get("deletionTimestamp")]
            ok = len(pods) == count and all(invariants.running(p) and p["status"].get("podIP") for p in pods)
            return sorted(pods, key=lambda p: p["metadata"]["name"]) if ok else None

        return wait_for(ready, timeout, f"{count} pods {selector!r} Running with an IP")

    def wait_gone(self, selector: str, namespace: str = "default", timeout: float = 60) -> None:
        wait_for(lambda: not self.pods(selector, namespace), timeout, f"no pods {selector!r} left")

    def problems(self) -> list[str]:
        """Every invariant violation now, `fipctl check`'s report included."""
        found = invariants.check(self.client, self.run, self.cfg)
        code, out = self.fipctl_check()
        if code != 0:
            found.append(f"fipctl check (exit {code}): {out.strip()}")
        return found

    def assert_invariants(self, timeout: float = 20) -> None:
        """The invariants hold (allowing `timeout` s for the fabric to settle after a step)."""
        last: list[str] = []

        def clean() -> bool:
            last[:] = self.problems()
            return not last

        try:
            wait_for(clean, timeout, "the invariants to hold", interval=0.5)
        except AssertionError:
            raise AssertionError("invariants violated:\n  " + "\n  ".join(last)) from None

    def allocations(self) -> list[Obj]:
        return invariants.allocations(self.redis_url)

    def fipctl_check(self) -> tuple[int, str]:
        return invariants.fipctl_check(self.run, self.redis_url)


def up(run_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [str(FIP_LAB), "up", "--run-dir", str(run_dir), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=400, check=False)


def down(run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FIP_LAB), "down", "--run-dir", str(run_dir)], capture_output=True, text=True,
                          timeout=200, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    yield from bring_up(tmp_path_factory.mktemp("fiplab"))


def bring_up(run_dir: Path, **changes: Any) -> Iterator[System]:
    """`fip-lab up` in `run_dir` (the default config, with top-level `changes`, e.g. redis=
    "sentinel"), the System while it runs, then `fip-lab down` and the check that nothing is left."""
    extra: list[str] = []
    if changes:
        cfg = yaml.safe_load(DEFAULT_CONFIG.read_text())
        cfg.update(changes)
        (run_dir.parent / f"{run_dir.name}.yaml").write_text(yaml.safe_dump(cfg))
        extra = ["--config", str(run_dir.parent / f"{run_dir.name}.yaml")]
    started = up(run_dir, *extra)
    try:
        assert started.returncode == 0, f"fip-lab up failed:\n{started.stdout}\n{started.stderr}"
        yield System(RunDir(run_dir))
    finally:
        stopped = down(run_dir)
        state = RunDir(run_dir).read() or {}
        left = teardown.leftovers(RunDir(run_dir), str(state.get("prefix", "")), state.get("bpf_dir"), state)
        assert stopped.returncode == 0 and not left, f"fip-lab down: {stopped.stderr}\nleft: {left}"


def manifest(*docs: Obj) -> str:
    return "\n---\n".join(json.dumps(d) for d in docs)
