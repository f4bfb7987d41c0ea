"""Build Service / EndpointSlice API objects for the bpf tests and load them like fipd's sync does
(`bpf.maps.desired` -> `bpf.maps.plan` -> the maps)."""

from __future__ import annotations

from typing import Any

from bpf.loader import Datapath
from bpf.maps import MapState, desired, plan

Obj = dict[str, Any]


def service(name: str, vip: str, ports: list[tuple[str, int, str]], *, affinity: int = 0) -> Obj:
    spec: Obj = {
        "type": "ClusterIP",
        "clusterIP": vip,
        "clusterIPs": [vip],
        "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports],
    }
    if affinity:
        spec["sessionAffinity"] = "ClientIP"
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": affinity}}
    return {"metadata": {"namespace": "default", "name": name}, "spec": spec}


def endpoints(
    service_name: str,
    ips: list[str],
    ports: list[tuple[str, int, str]],
    *,
    not_ready: tuple[str, ...] = (),
    slice_name: str = "",
) -> Obj:
    return {
        "metadata": {
            "namespace": "default",
            "name": slice_name or f"{service_name}-abc",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": ip not in not_ready}} for ip in ips],
        "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports],
    }


def load(dp: Datapath, services: list[Obj], slices: list[Obj]) -> MapState:
    """Make the maps hold exactly what `services` + `slices` ask for; returns the new state."""
    current = dp.maps.read()
    ids = {fe: entry.id for fe, entry in current.services.items()}
    want = desired(services, slices, ids=ids, limits=dp.settings.limits)
    for step in plan(current, want.state):
        if step.op == "put":
            dp.maps.put(step.map, step.key, step.value)
        else:
            dp.maps.delete(step.map, step.key)
    return want.state
