"""The fabric's invariants, checked from outside against a running `fip-lab up`.

    problems = check(client, run, cfg)        # [] when everything holds

1. No two live pods share an IP (compared by pod UID; a pod's IP is its status.podIP, or the
   IP of its allocation annotation while it is not running yet).
2. Every running pod with a floating IP is plugged on its node — fipd of `spec.nodeName` holds
   the container's state file and the sandbox namespace has the IP on eth0 — and is reachable
   from the legacy host of its subnet (or the router, for a subnet without one): an HTTP GET
   answers with that pod's own UID, so a stale ARP entry pointing at another pod fails it.
3. `zero_allocations(store)`: after the workloads are gone, the store holds no IP (policy
   `never` excepted, which an operator frees).
4. `fipctl_check(run)`: `fipctl check` against the lab's Redis and API server exits 0.

Each problem is one line naming the pod, the IP and what is wrong. Used by the e2e suite after
every step, by the demo's final check, by chaos and by `fip-lab soak`.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from bridge.netlink import Netlink
from fip.kube.client import KubeClient
from fip.kube.resources import PODS
from lab.cluster.config import LabConfig
from lab.cluster.rundir import RunDir
from lab.kubelet.container import http_get
from lab.kubelet.sandboxes import container_id, netns_name
from lab.kubelet.status import wants_fip

Obj = dict[str, Any]
ALLOCATION = "fip.io/allocation"


def allocation(pod: Obj) -> Obj | None:
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(ALLOCATION)
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def live(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def running(pod: Obj) -> bool:
    st = pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
    return st.get("phase") == "Running" and ready and not (pod.get("metadata") or {}).get("deletionTimestamp")


def pod_ip(pod: Obj) -> str | None:
    ip = (pod.get("status") or {}).get("podIP")
    if ip:
        return str(ip)
    alloc = allocation(pod)
    return str(alloc["ip"]) if alloc and "ip" in alloc else None


def unique_ips(pods: list[Obj]) -> list[str]:
    holders: dict[str, set[str]] = defaultdict(set)
    names: dict[str, list[str]] = defaultdict(list)
    for p in pods:
        ip = pod_ip(p) if live(p) and wants_fip(p) else None
        if ip:
            meta = p["metadata"]
            holders[ip].add(meta["uid"])
            names[ip].append(f"{meta['namespace']}/{meta['name']}")
    return [f"IP {ip} is held by {len(uids)} live pods: {', '.join(sorted(names[ip]))}"
            for ip, uids in sorted(holders.items()) if len(uids) > 1]  # fmt: skip


def plugged_and_reachable(pod: Obj, run: RunDir, cfg: LabConfig, prefix: str) -> list[str]:
    meta = pod["metadata"]
    who = f"pod {meta['namespace']}/{meta['name']}"
    problem = _plugged(pod, run, prefix) or _reachable(pod, cfg, prefix)
    return [f"{who}: {problem}"] if problem else []


def _plugged(pod: Obj, run: RunDir, prefix: str) -> str | None:
    ip, node, uid = (
        (pod.get("status") or {}).get("podIP"),
        (pod.get("spec") or {}).get("nodeName"),
        pod["metadata"]["uid"],
    )
    alloc = allocation(pod) or {}
    if not ip:
        return "Running without a podIP"
    if alloc.get("ip") != ip:
        return f"podIP {ip} differs from its allocation annotation {alloc.get('ip')}"
    state = run.root / "nodes" / str(node) / "fipd-state" / f"{container_id(uid)}_eth0.json"
    if not state.exists():
        return f"{ip} is not plugged on its node {node}: fipd has no state for its container"
    netns = netns_name(prefix, uid)
    try:
        with Netlink(netns) as nl:
            addrs = {str(a.ip) for a in nl.addresses("eth0")}
    except Exception as err:  # the sandbox is gone or has no eth0
        return f"{ip}: sandbox {netns}: {err}"
    return None if ip in addrs else f"eth0 of its sandbox has {sorted(addrs)}, not {ip}"


def _reachable(pod: Obj, cfg: LabConfig, prefix: str) -> str | None:
    ip, node, uid = pod["status"]["podIP"], pod["spec"].get("nodeName"), pod["metadata"]["uid"]
    source = _prober(cfg, str((allocation(pod) or {}).get("subnet", "")), prefix)
    try:
        answer = json.loads(http_get(source, ip, timeout=2.0))
    except (OSError, ValueError) as err:
        return f"{ip} on {node} is not reachable from {source}: {err}"
    if answer.get("uid") != uid:
        return f"{ip} answered as {answer.get('pod')} (uid {answer.get('uid')}), not this pod"
    return None


def _prober(cfg: LabConfig, subnet: str, prefix: str) -> str:
    for s in cfg.subnets:
        if s.subnet.name == subnet and s.legacy is not None:
            return f"{prefix}-lh-{subnet}"
    return f"{prefix}-rt-gw"


def check(client: KubeClient, run: RunDir, cfg: LabConfig) -> list[str]:
    prefix = run.prefix
    pods = list(client.list(PODS).get("items") or [])
    problems = unique_ips(pods)
    for p in pods:
        if running(p) and wants_fip(p) and not (p.get("spec") or {}).get("hostNetwork"):
            problems += plugged_and_reachable(p, run, cfg, prefix)
    return problems


def allocations(redis_url: str) -> list[Obj]:
    """Every IP the store holds (`fipctl ips -o json`)."""
    from fip.cli.fipctl import main as fipctl_main

    out = io.StringIO()
    with redirect_stdout(out):
        code = fipctl_main(["--redis-url", redis_url, "-o", "json", "ips"])
    if code != 0:
        raise RuntimeError(f"fipctl ips failed (exit {code}): {out.getvalue()[-300:]}")
    data = json.loads(out.getvalue() or "[]")
    return list(data if isinstance(data, list) else data.get("items", []))


def fipctl_check(run: RunDir, redis_url: str) -> tuple[int, str]:
    """(exit code, output) of `fipctl check` against the lab."""
    return fipctl_check_with(redis_url, str(run.kubeconfig))


def fipctl_check_with(redis_url: str, kubeconfig: str) -> tuple[int, str]:
    """(exit code, output) of `fipctl check` against any store and cluster."""
    from fip.cli.fipctl import main as fipctl_main

    out = io.StringIO()
    with redirect_stdout(out):
        code = fipctl_main(["--redis-url", redis_url, "check", "--kubeconfig", kubeconfig])
    return code, out.getvalue()


def redis_url(run: RunDir) -> str:
    state = run.read() or {}
    return str(state.get("redis_url") or f"redis://127.0.0.1:{(state.get('ports') or {}).get('redis')}/0")


def config_of(run: RunDir) -> LabConfig:
    from lab.cluster import config

    return config.load(Path(str((run.read() or {})["config"])))
