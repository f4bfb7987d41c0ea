"""End-to-end benchmark: `fip-lab bench e2e [--json PATH]`.

The whole system (`fip-lab up` on a 10-node lab: two L2 domains of five bridge-mode nodes, a
/22 subnet and a legacy host each) runs 500 pods with sticky IPs: 10 StatefulSets of 50
replicas (`immutable`, podManagementPolicy Parallel), created at once. Measured:

    create_s     StatefulSets created -> every pod Running AND its IP answering an HTTP GET from
                 the legacy host of its subnet with this pod's UID   (target <= 60)
    recreate_s   every pod deleted at once -> every replacement Running, reachable, and on the
                 IP its ordinal had before                           (target <= 60)
    pods_per_s   pods / create_s                                     (target >= 8)
    retained     share of recreated pods on their previous IP        (must be 1.0)

Everything is real but the control plane (the lab API server, scheduler, workload controllers
and kubelets): the extender allocates and binds, fipd plugs each pod through fip-cni, the
controllers keep the reservations across the deletion. Reference: Spiderpool's published run
put 1,000 pods on a real 10-node cluster in 182-207 s (docs/performance.md).

Env: FIP_BENCH_E2E_PODS (default 500, a multiple of 10).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.resources import PODS, STATEFULSETS
from lab.cluster import invariants
from lab.cluster.rundir import RunDir
from lab.kubelet.container import http_get

FIP_LAB = Path(sys.executable).with_name("fip-lab")
SETS = 10
TARGETS = {"create_s": 60.0, "recreate_s": 60.0, "pods_per_s": 8.0}
CONFIG = {
    "domains": {
        d: {
            "nodeCIDR": f"192.168.{i + 1}.0/24",
            "nodes": [f"{d}{n}" for n in range(1, 6)],
            "subnets": [
                {
                    "name": f"bench-{d}",
                    "cidr": f"10.{30 + i}.0.0/22",
                    "legacy": {"address": f"10.{30 + i}.3.250"},
                }
            ],
        }
        for i, d in enumerate(("a", "b"))
    }
}
Obj = dict[str, Any]


def _statefulset(name: str, replicas: int) -> Obj:
    template = {
        "metadata": {
            "labels": {"app": name, "bench": "e2e"},
            "annotations": {"fip.io/release-policy": "immutable"},
        },
        "spec": {"containers": [{"name": "c", "image": "c:1", "resources": {"limits": {"fip.io/ip": "1"}}}]},
    }
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": "Parallel",
                 "selector": {"matchLabels": {"app": name}}, "template": template},
    }  # fmt: skip


class Probe:
    """Which pods are Running and answer from their subnet's legacy host (by UID)."""

    def __init__(self, client: KubeClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.pool = ThreadPoolExecutor(16)
        self.confirmed: dict[str, str] = {}  # uid -> IP

    def _reachable(self, pod: Obj) -> bool:
        alloc = invariants.allocation(pod) or {}
        source = f"{self.prefix}-lh-{alloc.get('subnet')}"
        try:
            answer = json.loads(http_get(source, pod["status"]["podIP"], timeout=1.0))
        except (OSError, ValueError):
            return False
        return bool(answer.get("uid") == pod["metadata"]["uid"])

    def until_all(self, count: int, timeout: float) -> dict[str, str]:
        """name -> IP once `count` pods are confirmed; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pods = self.client.list(PODS, "default", label_selector="bench=e2e").get("items") or []
            todo = [p for p in pods if p["metadata"]["uid"] not in self.confirmed and invariants.running(p)
                    and p["status"].get("podIP")]  # fmt: skip
            for pod, ok in zip(todo, self.pool.map(self._reachable, todo), strict=True):
                if ok:
                    self.confirmed[pod["metadata"]["uid"]] = pod["status"]["podIP"]
            live = {p["metadata"]["uid"]: p for p in pods if not p["metadata"].get("deletionTimestamp")}
            done = [u for u in live if u in self.confirmed]
            if len(done) == count == len(live):
                return {live[u]["metadata"]["name"]: self.confirmed[u] for u in done}
            time.sleep(0.25)
        raise TimeoutError(f"only {len(self.confirmed)} of {count} pods reachable after {timeout:g} s")


def measure(run: RunDir, pods: int) -> dict[str, float]:
    client = KubeClient(str(run.kubeconfig), timeout=30.0)
    probe = Probe(client, run.prefix)
    per_set = pods // SETS
    t0 = time.monotonic()
    for i in range(SETS):
        client.create(STATEFULSETS, _statefulset(f"bench-{i}", per_set))
    first = probe.until_all(pods, 600)
    create_s = time.monotonic() - t0
    names = client.list(PODS, "default", label_selector="bench=e2e").get("items") or []
    probe.confirmed.clear()
    t1 = time.monotonic()

    def delete(pod: Obj) -> None:
        with contextlib.suppress(KubeError):
            client.delete(PODS, pod["metadata"]["name"], "default")

    list(probe.pool.map(delete, names))
    second = probe.until_all(pods, 600)
    recreate_s = time.monotonic() - t1
    retained = sum(1 for n, ip in second.items() if first.get(n) == ip) / pods
    return {"pods": float(pods), "nodes": 10.0, "create_s": round(create_s, 2),
            "recreate_s": round(recreate_s, 2), "pods_per_s": round(pods / create_s, 2),
            "retained": retained}  # fmt: skip


def run(json_path: str | None) -> dict[str, float]:
    pods = int(os.environ.get("FIP_BENCH_E2E_PODS", "500"))
    work = Path(tempfile.mkdtemp(prefix="fipbench-e2e-"))
    (work / "lab.yaml").write_text(yaml.safe_dump(CONFIG))
    argv = [str(FIP_LAB), "up", "--run-dir", str(work / "run"), "--config", str(work / "lab.yaml")]
    up = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    try:
        if up.returncode != 0:
            raise RuntimeError(f"fip-lab up failed: {up.stderr[-2000:]}")
        figures = measure(RunDir(work / "run"), pods)
    finally:
        subprocess.run([str(FIP_LAB), "down", "--run-dir", str(work / "run"), "--purge"], capture_output=True,
                       timeout=600, check=False)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    met = (figures["create_s"] <= TARGETS["create_s"] and figures["recreate_s"] <= TARGETS["recreate_s"]
           and figures["pods_per_s"] >= TARGETS["pods_per_s"] and figures["retained"] == 1.0)  # fmt: skip
    figures["targets_met"] = 1.0 if met else 0.0
    print(f"e2e: {pods} sticky-IP pods (10 StatefulSets, Parallel) on 10 nodes, fip-lab up")
    print(f"  {'figure':<12} {'value':>8}  target")
    for key, target in (
        ("create_s", "<= 60"),
        ("recreate_s", "<= 60"),
        ("pods_per_s", ">= 8"),
        ("retained", "1.0"),
    ):
        print(f"  {key:<12} {figures[key]:>8}  {target}")
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2) + "\n")
    return figures
