"""Controllers benchmark: `fip-lab bench reconcile [--json PATH]`.

A lab API server (in this process) holds 100,000 Running pods with the `fip.io/allocation`
annotation, owned by 1,000 StatefulSets of 100 (policy immutable), and a real redis-server
(loopback, no persistence) holds their 100,000 bound records. Measured:

    reconcile_s      one full reconcile pass of an in-process fip-controllers that leads with
                     synced caches: every record read from Redis, every owner planned, the
                     missing-record check over every pod. Target <= 5.
    restart_ready_s  `fip-controllers` started as a process until its /readyz answers 200
                     (the informers listed 100,000 pods and the rest, the store answered); the
                     median of three starts. Target <= 5.
    rebuild_s        FLUSHALL (total loss of Redis) until the in-process controller has noticed
                     it and rebuilt every record from the pods (allocation resumes). Target <= 10.

Anchors: Kube-OVN needed 29 s to rebuild its IPAM for 10,000 pods after a restart; Spiderpool
scans every 600 s. `targets_met` is 1.0 only if all three pass; `N` (environment
FIP_BENCH_PODS) scales the run down for a quick look.
"""

from __future__ import annotations

import ipaddress
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fip.core.annotation import KEY, Allocation
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.core.spec import subnet_to_resource
from fip.core.subnet import NodeSelection, Subnet
from fip.kube.client import KubeClient
from fip.store.factory import open_store
from lab.apiserver import APIServer
from lab.redisproc import RedisServer, free_port

N = int(os.environ.get("FIP_BENCH_PODS", "100000"))
PER_OWNER = 100
TARGETS = {"reconcile_s": 5.0, "restart_ready_s": 5.0, "rebuild_s": 10.0}
NS = "bench"
SUBNET = Subnet(
    "bench-a",
    ipaddress.ip_network("10.64.0.0/14"),
    ipaddress.ip_address("10.64.0.1"),
    nodes=NodeSelection(match_labels=(("fip.io/l2", "bench-a"),)),
)


def populate(api: APIServer, store: Any) -> None:
    """StatefulSets, pods and records straight into the API server's storage and Redis."""
    st = api.storage
    st.create("namespaces", {"metadata": {"name": NS}})
    st.create("subnets.fip.io", subnet_to_resource(SUBNET))
    store.put_subnet(SUBNET)
    base = int(ipaddress.ip_address("10.64.0.10"))
    records: list[AllocationRecord] = []
    template = {
        "metadata": {"labels": {"app": "x"}, "annotations": {"fip.io/release-policy": "immutable"}},
        "spec": {
            "containers": [{"name": "c", "image": "busybox:1", "resources": {"limits": {"fip.io/ip": "1"}}}]
        },
    }
    for j in range((N + PER_OWNER - 1) // PER_OWNER):
        name = f"web{j}"
        replicas = min(PER_OWNER, N - j * PER_OWNER)
        tmpl = {**template, "metadata": {**template["metadata"], "labels": {"app": name}}}
        sts = st.create(
            "statefulsets.apps",
            {"metadata": {"name": name, "namespace": NS},
             "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                      "template": tmpl}},
        )  # fmt: skip
        ref = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": sts["metadata"]["uid"],
               "controller": True}  # fmt: skip
        for i in range(replicas):
            n = j * PER_OWNER + i
            ip = ipaddress.IPv4Address(base + n)
            owner = OwnerKey.of(NS, "StatefulSet", name, i)
            alloc = Allocation(ip, 14, SUBNET.gateway, 0, SUBNET.name, owner).encode()
            pod = st.create(
                "pods",
                {"metadata": {"name": f"{name}-{i}", "namespace": NS, "labels": {"app": name},
                              "annotations": {KEY: alloc, "fip.io/release-policy": "immutable"},
                              "ownerReferences": [ref]},
                 "spec": {"nodeName": f"node-{n % 50}", **tmpl["spec"]},
                 "status": {"phase": "Running", "podIP": str(ip), "podIPs": [{"ip": str(ip)}]}},
                keep_status=True,
            )  # fmt: skip
            uid, node = pod["metadata"]["uid"], f"node-{n % 50}"
            policy = ReleasePolicy.IMMUTABLE
            rec = AllocationRecord(ip, SUBNET.name, owner, IPState.BOUND, policy, f"{name}-{i}", uid, node,
                                   created_at=1.0, updated_at=1.0)  # fmt: skip
            records.append(rec)
    bad = [r for r in store.record_many(records) if not isinstance(r, AllocationRecord)]
    if bad:
        raise RuntimeError(f"setup: {len(bad)} records refused, first: {bad[0]}")


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def measure_restart(kubeconfig: str, url: str, log: Path) -> float:
    port = free_port()
    exe = str(Path(sys.executable).parent / "fip-controllers")
    argv = [exe, "--redis-url", url, "--kubeconfig", kubeconfig, "--listen", f"127.0.0.1:{port}",
            "--lease-namespace", "kube-system", "--id", "restart", "--log-level", "WARNING"]  # fmt: skip

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait(ready, 120, "/readyz of the restarted controller")
            took = time.perf_counter() - t0
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    return took


def report(fig: dict[str, float]) -> str:
    lines = [f"{'figure':<18}{'value':>10}{'target':>10}"]
    for k, target in TARGETS.items():
        lines.append(f"{k:<18}{fig[k]:>10.2f}{'<= ' + str(target):>10}")
    lines.append(
        f"targets_met {fig['targets_met']:.0f}   pods {N:,}   records {N:,}   "
        f"load average {fig['load_start']} -> {fig['load_end']}"
    )
    return "\n".join(lines)


def run(json_path: str | None) -> dict[str, float]:
    from controllers.manager import Controllers, tune_gc

    tune_gc()  # as fip-controllers' main does
    load = os.getloadavg()[0]
    print(
        f"bench reconcile on {platform.node()} ({os.cpu_count()} CPUs, load {load:.1f}), {N:,} pods",
        flush=True,
    )
    fig: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="fip-bench-reconcile-") as tmp,
        RedisServer() as redis,
        APIServer(host="127.0.0.1", port=0) as api,
    ):
        kubeconfig = str(Path(tmp) / "kubeconfig")
        api.write_kubeconfig(kubeconfig)
        store = open_store(redis.url)
        store.initialise()
        t0 = time.perf_counter()
        populate(api, store)
        print(f"set-up: {time.perf_counter() - t0:.1f} s", flush=True)

        print("restart: fip-controllers process until /readyz (median of 3) ...", flush=True)
        starts = [measure_restart(kubeconfig, redis.url, Path(tmp) / f"restart{i}.log") for i in range(3)]
        print("  " + ", ".join(f"{t:.2f} s" for t in starts), flush=True)
        fig["restart_ready_s"] = round(sorted(starts)[1], 3)

        ctl = Controllers(KubeClient.for_server(api.url), store, namespace="kube-system", identity="bench",
                          period=3600.0, grace=60.0, watch_period=0.1)  # fmt: skip
        ctl.start()
        try:
            wait(ctl.gate.acting, 120, "the in-process controller to lead with synced caches")
            wait(lambda: len(ctl.release.queue) == 0, 120, "the release queue to drain")
            print("reconcile: one full pass ...", flush=True)
            passes = []
            for _ in range(3):
                result = ctl.reconciler.run_once()
                if result.skipped or result.records != N or result.pods != N or result.applied:
                    raise RuntimeError(f"unexpected reconcile pass: {result}")
                passes.append(result.seconds)
            fig["reconcile_s"] = round(sorted(passes)[1], 3)  # the median of three
            print("rebuild: FLUSHALL until rebuilt ...", flush=True)
            before = ctl.rebuilder.count
            t1 = time.perf_counter()
            redis.command("FLUSHALL")
            wait(lambda: ctl.rebuilder.count > before, 120, "the rebuild")
            fig["rebuild_s"] = round(time.perf_counter() - t1, 3)
            last = ctl.rebuilder.last
            if last is None or last.bound != N or store.usage(SUBNET.name).allocated != N:
                raise RuntimeError(f"rebuild incomplete: {last}")
            store.check_intact()
        finally:
            ctl.stop()
            store.close()
    fig["targets_met"] = float(all(fig[k] <= t for k, t in TARGETS.items()))
    fig["load_start"], fig["load_end"] = round(load, 1), round(os.getloadavg()[0], 1)
    print(report(fig))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(fig, f, indent=2)
            f.write("\n")
        print(f"figures written to {json_path}")
    return fig
