"""Scheduler-extender benchmark: `fip-lab bench extender [--json PATH]`.

The real `fip-extender` (gunicorn, 2 workers, loopback HTTP) over a real redis-server and the
lab API server, at 5,000 nodes, 200 subnets (25 nodes each) and 200,000 IPs (1,000 per subnet).
Requests are what kube-scheduler sends with the shipped configuration (nodeCacheCapable,
percentageOfNodesToScore 100): Go-encoded ExtenderArgs with all 5,000 node names; pods are
StatefulSet pods under `immutable` (the owner lookup in Redis is on every filter and bind).

    filter_p99_ms         names-mode filter, sequential, one new pod per call. Target <= 5.
    bind_p99_ms           bind after filter (allocate in Redis + Binding to the API server). <= 20.
    pods_per_s            filter + prioritize in a serial loop per scheduler, binds in a pool of 8
                          threads (kube-scheduler's shape), DRIVERS loops in parallel processes
                          against the 2 workers. Target >= 500.
    serial_pods_per_s     the same with one loop (one kube-scheduler); reported, no target.
    names_vs_nodes_ratio  names-mode filter latency over full-Nodes mode (5,000 Node objects in
                          the body), medians. Reported; lower is better.

    filter_cpu_ms, bind_cpu_ms, pod_cpu_ms
                          CPU seconds the extender's processes (gunicorn master + workers, from
                          /proc) spent per filter, per bind, and per pod of the throughput run:
                          the cost of the code, whatever else the machine runs.
    pods_per_s_cpu_bound  2 / pod_cpu_ms: what 2 workers sustain with a core each.
    *_handler_cpu_ms      the same from the extender's own `fip_extender_request_cpu_seconds`
                          (thread CPU of each request's handler: exact, without HTTP parsing).
    client_cpu_ms, apiserver_redis_cpu_ms
                          CPU per pod of the 4 client loops, and of this process (the lab API
                          server's threads) plus redis-server, during the throughput run: the
                          rest of what the 2 cores carry.

The machine is shared and small: the client, the API server, Redis and both workers run on its
cores with other work, so latencies include that contention (`load_average_1m` is recorded);
the CPU figures do not. Figures are printed with their targets; `targets_met` is 1.0 only when
the three targets hold.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import ipaddress
import json
import multiprocessing
import operator
import os
import platform
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from fip.core.subnet import IPRange, NodeSelection, Subnet
from fip.kube.client import KubeClient
from fip.kube.resources import PODS, STATEFULSETS
from fip.store.factory import open_store
from lab.apiserver import APIServer
from lab.extenderproc import Extender
from lab.redisproc import RedisServer
from lab.scheduler import wire

NODES, SUBNETS, IPS_PER_SUBNET = 5000, 200, 1000
FILTER_CALLS, NODES_MODE_CALLS, BIND_CALLS = 300, 30, 300
THROUGHPUT_PODS, DRIVERS = 1200, 4
TARGET_FILTER_P99, TARGET_BIND_P99, TARGET_PODS_PER_S = 5.0, 20.0, 500.0


def subnets() -> list[Subnet]:
    out = []
    for i in range(SUBNETS):
        net = ipaddress.ip_network(f"10.{100 + i // 64}.{(i % 64) * 4}.0/22")
        out.append(
            Subnet(
                name=f"s{i:03d}",
                cidr=net,
                gateway=net[1],
                vlan=i + 1,
                ranges=(IPRange(net[10], net[10 + IPS_PER_SUBNET - 1]),),
                nodes=NodeSelection(match_labels=(("fip.io/l2", f"s{i:03d}"),)),
            )
        )
    return out


def node(i: int) -> dict[str, Any]:
    name = f"node-{i:04d}"
    return {
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "fip.io/l2": f"s{i % SUBNETS:03d}"},
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "250"},
            "addresses": [{"type": "InternalIP", "address": f"192.168.{i // 250}.{i % 250 + 1}"}],
        },
    }


def pod(i: int, owner_uid: str) -> dict[str, Any]:
    name = f"web-{i}"
    return {
        "metadata": {
            "name": name,
            "labels": {"app": "web", "apps.kubernetes.io/pod-index": str(i)},
            "annotations": {"fip.io/release-policy": "immutable"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": "web",
                    "uid": owner_uid,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "resources": {"requests": {"cpu": "10m", "fip.io/ip": "1"}, "limits": {"fip.io/ip": "1"}},
                }
            ]
        },
    }


class Conn:
    """One kept-alive connection, as Go's transport keeps one per extender."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: bytes) -> tuple[float, Any]:
        """POST and read; a kept-alive connection the server closed is retried once on a new one
        (as Go's transport does), and that retry is part of the measured time."""
        start = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                resp = self.c.getresponse()
                raw = resp.read()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.c.close()
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        took = time.perf_counter() - start
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status}: {raw[:200]!r}")
        return took, orjson.loads(raw)


def names_body(pod: dict[str, Any], names_json: bytes) -> bytes:
    """ExtenderArgs in names mode, byte for byte what `wire.extender_args` (Go's encoding)
    writes, with the node-name array encoded once instead of per call: the client's CPU is
    not what is measured."""
    return b'{"Pod":' + wire.go_json(wire.typed(pod)) + b',"Nodes":null,"NodeNames":' + names_json + b"}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its children (the gunicorn master and its workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _own_cpu(redis_pid: int | None) -> float:
    """CPU of this process (all its threads: the lab API server) plus Redis's, children not
    included (the extender and the client loops are counted on their own)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    total = use.ru_utime + use.ru_stime
    if redis_pid:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{redis_pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def handler_cpu(ext: Extender) -> dict[str, tuple[float, float]]:
    """verb -> (CPU seconds, requests) from the extender's own per-request thread CPU summary,
    summed over its workers (exact, unlike /proc's 10 ms ticks; HTTP parsing not included)."""
    out: dict[str, tuple[float, float]] = {}
    for line in ext.metrics().splitlines():
        for part, index in (("_sum{", 0), ("_count{", 1)):
            if line.startswith("fip_extender_request_cpu_seconds" + part):
                verb = line.split('verb="', 1)[1].split('"', 1)[0]
                got = list(out.get(verb, (0.0, 0.0)))
                got[index] += float(line.rsplit(" ", 1)[1])
                out[verb] = (got[0], got[1])
    return out


def _per(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], verb: str) -> float:
    """ms of handler CPU per request of `verb` between two readings."""
    cpu = after.get(verb, (0.0, 0.0))[0] - before.get(verb, (0.0, 0.0))[0]
    n = after.get(verb, (0.0, 0.0))[1] - before.get(verb, (0.0, 0.0))[1]
    return round(cpu / n * 1000, 2) if n else 0.0


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _driver(args: tuple[int, list[dict[str, Any]], list[str]]) -> tuple[int, int, float, float]:
    """One scheduler: serial filter + prioritize, binds in 8 threads. (bound, failed, seconds,
    this process's CPU seconds). The client is kept light (bodies are byte strings joined from
    pre-encoded parts, replies decoded with orjson, the best host picked in C) because it shares
    the machine's cores with the extender: kube-scheduler does this work in Go, elsewhere."""
    port, pods, names = args
    cpu0 = time.process_time()
    best = operator.itemgetter("Score")
    conn = Conn(port)
    all_names = wire.go_json(names)
    pool = concurrent.futures.ThreadPoolExecutor(8)
    local = threading.local()

    def bind(p: dict[str, Any], host: str) -> bool:
        if not hasattr(local, "conn"):
            local.conn = Conn(port)
        m = p["metadata"]
        _, reply = local.conn.post("/fip/bind", wire.binding_args(m["name"], m["namespace"], m["uid"], host))
        return bool(reply["Error"] == "")

    start = time.perf_counter()
    futures = []
    for p in pods:
        body = names_body(p, all_names)
        _, result = conn.post("/fip/filter", body)
        feasible = result["NodeNames"]
        _, scores = conn.post(
            "/fip/prioritize",
            names_body(p, all_names if len(feasible) == len(names) else wire.go_json(feasible)),
        )
        host = max(scores, key=best)["Host"]
        futures.append(pool.submit(bind, p, host))
    ok = sum(1 for f in futures if f.result())
    took = time.perf_counter() - start
    pool.shutdown()
    return ok, len(pods) - ok, took, time.process_time() - cpu0


def measure(
    ext: Extender,
    api_pods: list[dict[str, Any]],
    node_objs: list[dict[str, Any]],
    redis_pid: int | None = None,
) -> dict[str, float]:
    names = [n["metadata"]["name"] for n in node_objs]
    names_json = wire.go_json(names)
    conn = Conn(ext.port)
    fig: dict[str, float] = {}
    # warm both workers (first requests import and fill caches)
    for p in api_pods[:20]:
        conn.post("/fip/filter", names_body(p, names_json))
    seq = iter(api_pods[20:])
    print(f"filter: {FILTER_CALLS} names-mode calls with {len(names)} names, then bind ...", flush=True)
    filt: list[float] = []
    binds: list[float] = []
    chosen: list[tuple[dict[str, Any], str]] = []
    cpu0, h0 = cpu_seconds(ext.proc.pid), handler_cpu(ext)
    for _ in range(FILTER_CALLS):
        p = next(seq)
        took, result = conn.post("/fip/filter", names_body(p, names_json))
        filt.append(took)
        assert len(result["NodeNames"]) == NODES, result["Error"]
        chosen.append((p, result["NodeNames"][len(chosen) % NODES]))
    cpu1, h1 = cpu_seconds(ext.proc.pid), handler_cpu(ext)
    for p, host in chosen[:BIND_CALLS]:
        m = p["metadata"]
        took, reply = conn.post("/fip/bind", wire.binding_args(m["name"], m["namespace"], m["uid"], host))
        assert reply["Error"] == "", reply
        binds.append(took)
    cpu2, h2 = cpu_seconds(ext.proc.pid), handler_cpu(ext)
    fig["filter_handler_cpu_ms"] = _per(h0, h1, "filter")
    fig["bind_handler_cpu_ms"] = _per(h1, h2, "bind")
    fig["filter_cpu_ms"] = round((cpu1 - cpu0) / FILTER_CALLS * 1000, 2)
    fig["bind_cpu_ms"] = round((cpu2 - cpu1) / BIND_CALLS * 1000, 2)
    print(f"full Nodes mode: {NODES_MODE_CALLS} calls, alternating with names mode ...", flush=True)
    names_mode, nodes_mode = [], []
    for _ in range(NODES_MODE_CALLS):
        p = next(seq)
        names_mode.append(conn.post("/fip/filter", names_body(p, names_json))[0])
        took, result = conn.post("/fip/filter", wire.extender_args(p, node_objs, node_cache_capable=False))
        assert len(result["Nodes"]["items"]) == NODES
        nodes_mode.append(took)
    rest = list(seq)
    serial = rest[: THROUGHPUT_PODS // 4]
    parallel = rest[THROUGHPUT_PODS // 4 : THROUGHPUT_PODS // 4 + THROUGHPUT_PODS]
    print(f"throughput: 1 scheduler loop x {len(serial)} pods ...", flush=True)
    ok, failed, took, _ = _driver((ext.port, serial, names))
    fig["serial_pods_per_s"] = round(ok / took, 1)
    print(f"throughput: {DRIVERS} scheduler loops x {len(parallel) // DRIVERS} pods ...", flush=True)
    chunks = [(ext.port, parallel[i::DRIVERS], names) for i in range(DRIVERS)]
    ctx = multiprocessing.get_context("fork")
    cpu3, h3 = cpu_seconds(ext.proc.pid), handler_cpu(ext)
    others0 = _own_cpu(redis_pid)
    start = time.perf_counter()
    with ctx.Pool(DRIVERS) as procs:
        results = procs.map(_driver, chunks)
    wall = time.perf_counter() - start
    bound = sum(r[0] for r in results)
    per_pod = (cpu_seconds(ext.proc.pid) - cpu3) / max(1, bound)
    fig["pod_cpu_ms"] = round(per_pod * 1000, 2)
    h4 = handler_cpu(ext)
    fig["pod_handler_cpu_ms"] = round(
        sum(h4.get(v, (0.0, 0.0))[0] - h3.get(v, (0.0, 0.0))[0] for v in ("filter", "prioritize", "bind"))
        / max(1, bound)
        * 1000,
        2,
    )
    fig["prioritize_handler_cpu_ms"] = _per(h3, h4, "prioritize")
    # the rest of the machine's work per pod: the 4 client loops, and this process (the lab API
    # server answering the Bindings and pod GETs; the pool's own children are not in it) + Redis
    fig["client_cpu_ms"] = round(sum(r[3] for r in results) / max(1, bound) * 1000, 2)
    others = _own_cpu(redis_pid) - others0
    fig["apiserver_redis_cpu_ms"] = round(others / max(1, bound) * 1000, 2)
    # what 2 workers sustain when each has a core to itself: the CPU cost per pod bounds it
    fig["pods_per_s_cpu_bound"] = round(2 / per_pod, 1) if per_pod else 0.0
    fig.update(
        filter_p50_ms=round(statistics.median(filt) * 1000, 2),
        filter_p99_ms=round(p99(filt) * 1000, 2),
        bind_p50_ms=round(statistics.median(binds) * 1000, 2),
        bind_p99_ms=round(p99(binds) * 1000, 2),
        nodes_mode_p50_ms=round(statistics.median(nodes_mode) * 1000, 2),
        names_vs_nodes_ratio=round(statistics.median(names_mode) / statistics.median(nodes_mode), 3),
        pods_per_s=round(bound / wall, 1),
        bind_failures=float(failed + sum(r[1] for r in results)),
    )
    return fig


def report(fig: dict[str, float]) -> str:
    rows = [
        ("filter_p99_ms", f"<= {TARGET_FILTER_P99}", fig["filter_p99_ms"] <= TARGET_FILTER_P99),
        ("bind_p99_ms", f"<= {TARGET_BIND_P99}", fig["bind_p99_ms"] <= TARGET_BIND_P99),
        ("pods_per_s", f">= {TARGET_PODS_PER_S}", fig["pods_per_s"] >= TARGET_PODS_PER_S),
    ]
    fig["targets_met"] = 1.0 if all(ok for _, _, ok in rows) else 0.0
    lines = [f"{'figure':24} {'value':>10}  target"]
    for key, target, ok in rows:
        lines.append(f"{key:24} {fig[key]:>10}  {target} {'ok' if ok else 'MISSED'}")
    for key in (
        "filter_p50_ms",
        "bind_p50_ms",
        "nodes_mode_p50_ms",
        "names_vs_nodes_ratio",
        "serial_pods_per_s",
        "filter_cpu_ms",
        "bind_cpu_ms",
        "pod_cpu_ms",
        "filter_handler_cpu_ms",
        "prioritize_handler_cpu_ms",
        "bind_handler_cpu_ms",
        "pod_handler_cpu_ms",
        "pods_per_s_cpu_bound",
        "client_cpu_ms",
        "apiserver_redis_cpu_ms",
        "bind_failures",
        "bench_seconds",
        "load_average_1m",
    ):
        lines.append(f"{key:24} {fig.get(key, float('nan')):>10}")
    return "\n".join(lines)


def run(json_path: str | None) -> dict[str, float]:
    print(
        f"bench extender on {platform.processor() or 'cpu'}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    t0 = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="fip-bench-extender-") as tmp,
        RedisServer() as redis,
        APIServer(host="127.0.0.1", port=0) as api,
    ):
        store = open_store(redis.url)
        store.initialise()
        for s in subnets():
            store.put_subnet(s)
        st = api.storage
        node_objs = [st.create_rt(st.rt("nodes"), None, node(i), keep_status=True) for i in range(NODES)]
        total = 20 + FILTER_CALLS + NODES_MODE_CALLS + THROUGHPUT_PODS // 4 + THROUGHPUT_PODS
        # a real owner: the garbage collector deletes pods whose owner is missing
        kube = KubeClient.for_server(api.url)
        sts = kube.create(STATEFULSETS, {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 0,
            "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": pod(0, "")["spec"]}}})  # fmt: skip
        uid = sts["metadata"]["uid"]

        def create(i: int) -> dict[str, Any]:
            return kube.create(PODS, {"apiVersion": "v1", "kind": "Pod", **pod(i, uid)}, "default")

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            api_pods = list(pool.map(create, range(total)))
        kube.close()
        print(
            f"loaded {NODES} nodes, {len(api_pods)} pods, {SUBNETS} subnets x {IPS_PER_SUBNET} IPs "
            f"in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        kubeconfig = str(api.write_kubeconfig(Path(tmp) / "kubeconfig"))
        log = Path(tmp) / "extender.log"
        ext = Extender(
            redis.url, kubeconfig, workers=2, extra=("--log-level", "warning"), log=log, refresh=2.0
        )
        try:
            ext.wait_ready(timeout=120)
            fig = measure(
                ext,
                [dict(p) for p in api_pods],
                [dict(n) for n in node_objs],
                redis.proc.pid if redis.proc is not None else None,
            )
        finally:
            ext.stop()
        recs = sum(store.usage(s.name).allocated for s in subnets())
        fig["allocated"] = float(recs)
    fig["bench_seconds"] = round(time.perf_counter() - t0, 1)
    fig["load_average_1m"] = round(os.getloadavg()[0], 1)  # the machine is shared: read figures with it
    print(report(fig))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(fig, f, indent=2)
            f.write("\n")
        print(f"figures written to {json_path}")
    return fig
