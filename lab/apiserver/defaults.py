"""Server-side defaults the real API server fills in on create (the ones fip code reads).

Pods start `Pending` with the scheduler, restart policy and grace period defaulted; Services get
a ClusterIP from 10.96.0.0/12 (one per Service, never reused while the server runs); Namespaces
are `Active`; workloads default to one replica. Status in a create request is dropped for the
types the real server resets (pods, services, workloads, custom resources with a status
subresource) — nodes keep it, as the kubelet registers nodes with their status.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import random
import threading
from typing import Any

from lab.apiserver.resources import ResourceType

Obj = dict[str, Any]

RESET_STATUS = {
    "Pod",
    "Service",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "Namespace",
    "Job",
    "PodDisruptionBudget",
}
WORKLOADS = {"Deployment", "ReplicaSet", "StatefulSet"}
NO_GENERATION = {
    "Namespace", "Node", "ConfigMap", "Secret", "Event", "Endpoints", "EndpointSlice", "Lease",
    "ServiceAccount", "ControllerRevision",
}  # fmt: skip


class ClusterIPs:
    """Hands out Service ClusterIPs from 10.96.0.0/12 (skipping .0 and the first host)."""

    def __init__(self, cidr: str = "10.96.0.0/12") -> None:
        self._hosts = ipaddress.ip_network(cidr).hosts()
        next(self._hosts)
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return str(next(self._hosts))


_node_ports = itertools.count(30000)


def apply_create_defaults(rt: ResourceType, obj: Obj, ips: ClusterIPs, keep_status: bool) -> None:
    kind = rt.kind
    if not keep_status and (kind in RESET_STATUS or (rt.custom and rt.has_status)):
        obj.pop("status", None)
    if kind == "Pod":
        spec = obj.setdefault("spec", {})
        pod_spec_defaults(spec)
        status = obj.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", qos_class(spec))
    elif kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif kind == "Service":
        _service_defaults(obj, ips)
    elif kind in WORKLOADS:
        obj.setdefault("spec", {}).setdefault("replicas", 1)
        workload_defaults(kind, obj["spec"])
        # Go's non-omitempty int32 fields: the client's models require them.
        status = obj.setdefault("status", {})
        if kind != "Deployment":
            status.setdefault("replicas", 0)
        if kind == "StatefulSet":
            status.setdefault("availableReplicas", 0)
    elif kind == "Secret":
        secret_defaults(obj)
    elif kind == "Node":
        obj.setdefault("spec", {})
        obj.setdefault("status", {})


def pod_spec_defaults(spec: Obj) -> None:
    """`SetDefaults_PodSpec` and `SetDefaults_Container` for the fields clients read (pods and templates)."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            c.setdefault("imagePullPolicy", pull_policy(str(c.get("image", ""))))
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            resources = c.setdefault("resources", {})
            if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
                requests = resources.setdefault("requests", {})
                if isinstance(requests, dict):
                    for name, value in resources["limits"].items():
                        requests.setdefault(name, value)  # requests default to limits
            for port in c.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def qos_class(spec: Obj) -> str:
    """Guaranteed: cpu and memory limits equal requests everywhere; BestEffort: nothing set."""
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    res = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in res):
        return "BestEffort"
    guaranteed = all(
        all(
            k in (r.get("limits") or {}) and (r.get("requests") or {}).get(k) == r["limits"][k]
            for k in ("cpu", "memory")
        )
        for r in res
    )
    return "Guaranteed" if guaranteed else "Burstable"


def pod_admission(obj: Obj) -> None:
    """The default admission plugins' pod changes: ServiceAccount (account name, token volume and
    mounts), Priority (0, PreemptLowerPriority), DefaultTolerationSeconds (not-ready/unreachable 300 s)."""
    spec = obj.setdefault("spec", {})
    account = spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", account)
    if spec.get("automountServiceAccountToken") is not False:
        suffix = "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))  # noqa: S311
        volume = f"kube-api-access-{suffix}"
        namespace_file = {
            "path": "namespace",
            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
        }
        sources = [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [namespace_file]}},
        ]
        spec.setdefault("volumes", []).append(
            {"name": volume, "projected": {"defaultMode": 420, "sources": sources}}
        )
        for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            if isinstance(c, dict):
                c.setdefault("volumeMounts", []).append(
                    {
                        "name": volume,
                        "readOnly": True,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    }
                )
    if not spec.get("priorityClassName"):
        spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(
            isinstance(t, dict) and t.get("key") == key and t.get("effect") in (None, "", "NoExecute")
            for t in tolerations
        ):
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )


NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}


def node_ready(node: Obj) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(
        isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
    )


def node_admission(node: Obj) -> None:
    """TaintNodesByCondition: a new node is `not-ready:NoSchedule` until it reports Ready (a node
    registered already Ready is left untainted, as if the lifecycle controller had run at once)."""
    if not node_ready(node):
        taints = node.setdefault("spec", {}).setdefault("taints", [])
        if not any(t.get("key") == NOT_READY_TAINT["key"] for t in taints if isinstance(t, dict)):
            taints.append(dict(NOT_READY_TAINT))


def node_lifecycle(node: Obj) -> None:
    """The node lifecycle controller's part: drop the not-ready NoSchedule taint once the node is Ready."""
    spec = node.get("spec")
    if not isinstance(spec, dict) or not spec.get("taints") or not node_ready(node):
        return
    kept = [
        t
        for t in spec["taints"]
        if not (
            isinstance(t, dict) and t.get("key") == NOT_READY_TAINT["key"] and t.get("effect") == "NoSchedule"
        )
    ]
    if len(kept) != len(spec["taints"]):
        node["spec"] = {**spec, "taints": kept} if kept else {k: v for k, v in spec.items() if k != "taints"}


def pull_policy(image: str) -> str:
    """`SetDefaults_Container`: no tag (or `:latest`) means Always, anything else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def secret_defaults(obj: Obj) -> None:
    """`stringData` is write-only: merged into base64 `data`; `type` defaults to Opaque."""
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = dict(obj.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data
    if obj.get("type") in (None, ""):
        obj["type"] = "Opaque"


def workload_defaults(kind: str, spec: Obj) -> None:
    """`SetDefaults_Deployment` / `_StatefulSet` / `_ReplicaSet` (apps/v1)."""
    template = spec.get("template")
    if isinstance(template, dict):
        pod_spec_defaults(template.setdefault("spec", {}))
    if kind == "Deployment":
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
    elif kind == "StatefulSet":
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        update = spec.setdefault("updateStrategy", {})
        update.setdefault("type", "RollingUpdate")
        if update["type"] == "RollingUpdate":
            update.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        retention.setdefault("whenDeleted", "Retain")
        retention.setdefault("whenScaled", "Retain")


def job_defaults(obj: Obj) -> None:
    """batch/v1 Job: `SetDefaults_Job` and the strategy's generated selector (needs the uid)."""
    spec = obj.setdefault("spec", {})
    uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    template = spec.setdefault("template", {})
    if not spec.get("manualSelector"):
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels.update(
            {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
             "controller-uid": uid, "job-name": name}
        )  # fmt: skip
    pod_spec_defaults(template.setdefault("spec", {}))
    obj.setdefault("status", {})


def _service_defaults(obj: Obj, ips: ClusterIPs) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName" and spec.get("clusterIP") in (None, ""):
        spec["clusterIP"] = ips.next()
    if spec.get("clusterIP"):  # headless ("None") too: clusterIPs ["None"], as dual-stack defaulting does
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        family = "IPv6" if ":" in spec["clusterIP"] else "IPv4"
        spec.setdefault("ipFamilies", [family])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            if spec["type"] in ("NodePort", "LoadBalancer"):
                port.setdefault("nodePort", next(_node_ports))
    obj["status"] = {"loadBalancer": {}}


def apply_update_defaults(rt: ResourceType, new: Obj, old: Obj) -> None:
    """Defaulting on updates and patches: the real server defaults every decoded body, so a
    `kubectl replace` of the manifest an object was created from changes nothing. Allocated values
    of a Service (cluster IPs, node ports) are kept from the stored object when the body omits them."""
    spec = new.get("spec")
    if rt.custom or not isinstance(spec, dict):
        return
    kind = rt.kind
    if kind == "Pod" and not rt.group:
        pod_spec_defaults(spec)
    elif kind in WORKLOADS:
        spec.setdefault("replicas", 1)
        workload_defaults(kind, spec)
    elif kind == "Namespace" and not rt.group:
        spec.setdefault("finalizers", ["kubernetes"])
    elif kind == "Service" and not rt.group:
        _service_update_defaults(spec, old.get("spec") or {})


def _service_update_defaults(spec: Obj, before: Obj) -> None:
    spec.setdefault("type", before.get("type", "ClusterIP"))
    if spec["type"] != "ExternalName" and before.get("clusterIP") and not spec.get("clusterIP"):
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key in before:
                spec.setdefault(key, before[key])
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    allocated = {
        (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in before.get("ports") or []
    }
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            node_port = allocated.get((port.get("port"), port["protocol"]))
            if spec["type"] in ("NodePort", "LoadBalancer") and node_port:
                port.setdefault("nodePort", node_port)
