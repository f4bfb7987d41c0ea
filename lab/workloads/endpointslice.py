"""EndpointSlice: a Service with a selector gets slices listing its pods' IPs.

As kube-controller-manager's endpointslice controller writes them: label
`kubernetes.io/service-name`, `endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io`, owner the Service, one slice per address family (from
`spec.ipFamilies`, IPv4 by default) and per distinct port mapping (a named `targetPort`
resolves per pod). Every non-finished pod with an IP of that family is listed, with
`conditions.ready` (pod Ready and not terminating, or `publishNotReadyAddresses`),
`serving` (pod Ready) and `terminating`; consumers route to ready endpoints. Slices that are no
longer needed are deleted. Services without a selector are left alone.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.resources import ENDPOINTSLICES, PODS, SERVICES
from lab.workloads import workload

Obj = dict[str, Any]
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"


def _ports(svc: Obj, pod: Obj) -> tuple[tuple[str, str, int], ...] | None:
    """(name, protocol, port) per Service port for this pod; None if a named port is missing."""
    named = {
        p["name"]: p["containerPort"]
        for c in (pod.get("spec") or {}).get("containers") or []
        for p in c.get("ports") or []
        if p.get("name")
    }
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        target = sp.get("targetPort", sp.get("port"))
        if isinstance(target, str) and not target.isdigit():
            if target not in named:
                return None
            target = named[target]
        out.append((str(sp.get("name", "")), str(sp.get("protocol", "TCP")), int(target)))
    return tuple(out)


def _ips(pod: Obj, family: str) -> list[str]:
    status = pod.get("status") or {}
    ips = [p["ip"] for p in status.get("podIPs") or [] if p.get("ip")] or (
        [status["podIP"]] if status.get("podIP") else []
    )
    version = 6 if family == "IPv6" else 4
    return [ip for ip in ips if ipaddress.ip_address(ip).version == version][:1]


def desired_slices(
    svc: Obj, pods: list[Obj]
) -> dict[tuple[str, tuple[tuple[str, str, int], ...]], list[Obj]]:
    """(addressType, ports) -> endpoints, sorted by pod name (a pure function of its inputs)."""
    spec = svc.get("spec") or {}
    families = spec.get("ipFamilies") or ["IPv4"]
    publish = bool(spec.get("publishNotReadyAddresses"))
    out: dict[tuple[str, tuple[tuple[str, str, int], ...]], list[Obj]] = {}
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        if workload.is_finished(pod):
            continue
        ports = _ports(svc, pod)
        if ports is None:
            continue
        terminating = workload.is_terminating(pod)
        ready = workload.is_ready(pod)
        for family in families:
            for ip in _ips(pod, family):
                endpoint: Obj = {
                    "addresses": [ip],
                    "conditions": {
                        "ready": publish or (ready and not terminating),
                        "serving": publish or ready,
                        "terminating": terminating,
                    },
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": pod["metadata"]["namespace"],
                        "name": pod["metadata"]["name"],
                        "uid": pod["metadata"].get("uid"),
                    },
                }
                if (pod.get("spec") or {}).get("nodeName"):
                    endpoint["nodeName"] = pod["spec"]["nodeName"]
                if pod["spec"].get("hostname") and pod["spec"].get("subdomain") == svc["metadata"]["name"]:
                    endpoint["hostname"] = pod["spec"]["hostname"]
                out.setdefault((family, ports), []).append(endpoint)
    return out


class EndpointSliceController:
    resource = SERVICES

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    def reconcile(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        selector = f"{SERVICE_NAME}={name},{MANAGED_BY}={CONTROLLER}"
        existing = self.client.list(ENDPOINTSLICES, namespace, label_selector=selector).get("items") or []
        try:
            svc = self.client.get(SERVICES, name, namespace)
        except KubeError as e:
            if e.status != 404:
                raise
            svc = None
        want: dict[tuple[str, tuple[tuple[str, str, int], ...]], list[Obj]] = {}
        if svc is not None and (svc.get("spec") or {}).get("selector"):
            pod_selector = {"matchLabels": svc["spec"]["selector"]}
            pods = self.client.list(PODS, namespace, label_selector=workload.selector_string(pod_selector))
            want = desired_slices(svc, pods.get("items") or [])
        unused = list(existing)
        for (family, ports), endpoints in want.items():
            port_list = [{"name": n, "protocol": p, "port": port} for n, p, port in ports]
            match = next((s for s in unused if _shape(s) == (family, ports)), None)
            if match is not None:
                unused.remove(match)
                if match.get("endpoints") != endpoints:
                    match["endpoints"] = endpoints
                    self.client.update(ENDPOINTSLICES, match)
                continue
            assert svc is not None
            self.client.create(
                ENDPOINTSLICES,
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "generateName": f"{name}-",
                        "namespace": namespace,
                        "labels": {SERVICE_NAME: name, MANAGED_BY: CONTROLLER},
                        "ownerReferences": [workload.owner_ref(svc, SERVICES)],
                    },
                    "addressType": family,
                    "endpoints": endpoints,
                    "ports": port_list,
                },
            )
        for stale in unused:
            try:
                self.client.delete(ENDPOINTSLICES, stale["metadata"]["name"], namespace)
            except KubeError as e:
                if e.status != 404:
                    raise


def _shape(eps: Obj) -> tuple[str, tuple[tuple[str, str, int], ...]]:
    ports = tuple(
        (str(p.get("name", "")), str(p.get("protocol", "TCP")), int(p.get("port", 0)))
        for p in eps.get("ports") or []
    )
    return str(eps.get("addressType")), ports
