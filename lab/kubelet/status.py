"""What the kubelet stand-in writes: pod status and the Node it registers (pure functions).

Pod status is written through the `status` subresource as a strategic merge patch, so the
conditions merge by type (the scheduler's PodScheduled stays) and `metadata.uid` in the patch
makes the server refuse it (409) for a recreated pod of the same name. The fields are the ones
kubectl and controllers read: phase, podIP / podIPs, hostIP / hostIPs, startTime, the five pod
conditions and a containerStatus per container.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fip.kube.types import Pod

Obj = dict[str, Any]
FIP_RESOURCE = "fip.io/ip"
CONDITIONS = ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled")


def wants_fip(pod: Pod | Obj) -> bool:
    """True if a container or init container requests or limits `fip.io/ip` (the opt-in; the
    same rule as kube-scheduler's and fip.core.podrequest's)."""
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = c.get("resources") or {}
        if FIP_RESOURCE in (res.get("limits") or {}) or FIP_RESOURCE in (res.get("requests") or {}):
            return True
    return False


def host_network(pod: Pod | Obj) -> bool:
    return bool((pod.get("spec") or {}).get("hostNetwork"))


def _conditions(now: str, ready: bool, sandbox: bool, reason: str = "", message: str = "") -> list[Obj]:
    out = []
    for kind in CONDITIONS:
        ok = {"PodReadyToStartContainers": sandbox, "Initialized": True, "PodScheduled": True}.get(
            kind, ready
        )
        cond: Obj = {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": now}
        if not ok and reason:
            cond["reason"], cond["message"] = reason, message[:1024]
        out.append(cond)
    return out


def running(pod: Pod | Obj, pod_ip: str | None, host_ip: str, now: str, container_id: str) -> Obj:
    """The patch for a pod whose sandbox and containers run (`pod_ip` None: no pod network)."""
    uid = (pod.get("metadata") or {}).get("uid")
    containers = (pod.get("spec") or {}).get("containers") or []
    status: Obj = {
        "phase": "Running",
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": now,
        "conditions": _conditions(now, ready=True, sandbox=True),
        "containerStatuses": [
            {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "imageID": "",
                "containerID": f"lab://{container_id}",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }
            for c in containers
        ],
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return {"metadata": {"uid": uid}, "status": status}


def sandbox_failed(pod: Pod | Obj, host_ip: str, now: str, message: str) -> Obj:
    """The patch for a pod whose sandbox could not be made (it stays Pending; the kubelet retries)."""
    uid = (pod.get("metadata") or {}).get("uid")
    containers = (pod.get("spec") or {}).get("containers") or []
    waiting = {"waiting": {"reason": "ContainerCreating"}}
    status: Obj = {
        "phase": "Pending",
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "conditions": _conditions(now, ready=False, sandbox=False, reason="SandboxFailed", message=message),
        "containerStatuses": [
            {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": waiting,
            }
            for c in containers
        ],
    }
    return {"metadata": {"uid": uid}, "status": status}


def reported(pod: Pod | Obj, pod_ip: str | None) -> bool:
    """True if the pod's status already says Running and Ready with this IP (nothing to write)."""
    st = pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
    return st.get("phase") == "Running" and ready and st.get("podIP") == pod_ip


def node_object(
    name: str,
    ip: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    now: str,
    *,
    pods: int = 110,
) -> Obj:
    """The Node a kubelet registers: its labels, InternalIP and Hostname, Ready, capacity."""
    capacity = {"cpu": "4", "memory": "8Gi", "pods": str(pods), "ephemeral-storage": "20Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **labels},
            "annotations": dict(annotations),
        },
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "lab kubelet is posting ready status",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                },
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.37.0-lab",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "containerRuntimeVersion": "lab://0.1",
                "kernelVersion": "",
                "osImage": "fip lab",
                "kubeProxyVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        },
    }
