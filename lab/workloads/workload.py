"""What the workload controllers share: owner references, pod states, label selectors and the
template hash kube-controller-manager puts in `pod-template-hash` / `controller-revision-hash`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.resources import PODS, Resource

Obj = dict[str, Any]
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand alphanums


def template_hash(template: object, collision_count: int = 0) -> str:
    """A 32-bit hash of the template, written like rand.SafeEncodeString(fmt.Sprint(hash))."""
    raw = json.dumps(template, sort_keys=True, separators=(",", ":")) + f"#{collision_count}"
    value = int.from_bytes(hashlib.sha256(raw.encode()).digest()[:4], "big")
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(value))


def owner_ref(owner: Mapping[str, Any], res: Resource, block: bool = True) -> Obj:
    ref: Obj = {
        "apiVersion": res.api_version,
        "kind": res.kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def controller_of(obj: Mapping[str, Any]) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owned_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == owner["metadata"]["uid"]


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_finished(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: Mapping[str, Any]) -> bool:
    """Counts towards replicas: not terminating and not finished (controller.FilterActivePods)."""
    return not is_terminating(pod) and not is_finished(pod)


def is_ready(pod: Mapping[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def is_running_and_ready(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector as the query-string form the API server parses."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], ",".join(expr.get("values") or [])
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(
                op, f"!{key}"
            )
        )
    return ",".join(parts)


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector against labels (an empty selector matches nothing, as for controllers)."""
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op, False)
        if not ok:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


def live(client: KubeClient, res: Resource, key: str) -> Obj | None:
    """The object a work item (`namespace/name`) names, or None when it is gone or being deleted:
    a level-based controller then has nothing to do, since garbage collection removes what the
    object owned. Other API errors propagate so the manager retries the key."""
    namespace, name = key.split("/", 1)
    try:
        obj: Obj = client.get(res, name, namespace)
    except KubeError as e:
        if e.status == 404:
            return None
        raise
    return None if obj["metadata"].get("deletionTimestamp") else obj


def pod_from_template(
    template: Mapping[str, Any], namespace: str, owner_reference: Obj, labels: Mapping[str, str], **meta: Any
) -> Obj:
    """A Pod for `template` (its labels plus `labels`), owned by `owner_reference`; `meta` gives
    name or generateName and any extra metadata."""
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {
        "namespace": namespace,
        "labels": {**(tmeta.get("labels") or {}), **labels},
        "ownerReferences": [owner_reference],
        **meta,
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = dict(tmeta["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def list_owned_pods(
    client: KubeClient, owner: Mapping[str, Any], selector: Mapping[str, Any] | None
) -> list[Obj]:
    ns = owner["metadata"].get("namespace")
    items = client.list(PODS, ns, label_selector=selector_string(selector)).get("items") or []
    return [p for p in items if owned_by(p, owner)]


def delete_pod(client: KubeClient, pod: Mapping[str, Any]) -> None:
    """Delete with the pod's UID as precondition; gone already or replaced is fine."""
    meta = pod["metadata"]
    try:
        client.delete(PODS, meta["name"], meta["namespace"], uid=meta.get("uid"))
    except KubeError as e:
        if e.status not in (404, 409):
            raise


def create_pod(client: KubeClient, pod: Obj) -> None:
    """Create; AlreadyExists (a same-name pod still terminating) is retried by the next sync."""
    try:
        client.create(PODS, pod)
    except KubeError as e:
        if e.status != 409:
            raise


def write_status(client: KubeClient, res: Resource, obj: Mapping[str, Any], status: Obj) -> None:
    """Patch `status` when it changed (avoids a write, and so an event, per sync)."""
    current = obj.get("status") or {}
    if all(current.get(k) == v for k, v in status.items()):
        return
    meta = obj["metadata"]
    patch = dict(status)
    for k, v in status.items():
        old = current.get(k)
        if isinstance(v, dict) and isinstance(old, dict):  # merge patch: removed map keys need null
            patch[k] = {**dict.fromkeys(old), **v}
    try:
        client.patch(res, meta["name"], {"status": patch}, meta.get("namespace"), sub="status")
    except KubeError as e:
        if e.status != 404:
            raise
