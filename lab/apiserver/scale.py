"""The `scale` subresource: an `autoscaling/v1` Scale view of a workload or of a custom resource
with CRD scale paths (specReplicasPath, statusReplicasPath, labelSelectorPath); writes to it change
only the replica count, with the Scale's resourceVersion as a precondition (409 when stale)."""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.apiserver import patch
from lab.apiserver.resources import ResourceType, Scale
from lab.apiserver.status import APIError

if TYPE_CHECKING:
    from lab.apiserver.store import Store

Obj = dict[str, Any]


def view(rt: ResourceType, obj: Obj) -> Obj:
    """The `autoscaling/v1` Scale view of a workload or a CR with a scale subresource."""
    paths = rt.scale or Scale()

    def get(path: str | None) -> Any:
        cur: Any = obj
        for part in (path or "").lstrip(".").split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        return cur

    m = obj["metadata"]
    status: Obj = {"replicas": get(paths.status_replicas) or 0}
    if paths.label_selector and get(paths.label_selector):
        status["selector"] = get(paths.label_selector)
    elif not rt.custom:
        sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if sel:
            status["selector"] = ",".join(f"{k}={v}" for k, v in sorted(sel.items()))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in m
        },
        "spec": {"replicas": get(paths.spec_replicas) or 0},
        "status": status,
    }


def write(storage: Store, rt: ResourceType, ns: str | None, name: str, body: Any, how: str) -> Obj:  # noqa: PLR0917
    """PUT (`how="update"`) or PATCH (`json`, `merge`, `strategic`) of the Scale; returns the new Scale."""
    with storage.lock:
        obj = storage.current(rt, ns or "", name)
        current = view(rt, obj)
        try:
            if how == "update":
                new_scale = body
            elif how == "json":
                new_scale = patch.json_patch(current, body)
            else:
                new_scale = patch.merge_patch(current, body)
        except patch.PatchError as e:
            raise APIError(
                400 if e.bad_format else 422, "BadRequest" if e.bad_format else "Invalid", str(e)
            ) from None
        replicas = ((new_scale or {}).get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise APIError(
                422,
                "Invalid",
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas!r}: must be greater than or equal to 0',
            )
        rv = ((new_scale or {}).get("metadata") or {}).get("resourceVersion")
        path = rt.scale.spec_replicas.lstrip(".").split(".") if rt.scale else ["spec", "replicas"]
        update: Obj = {path[-1]: replicas}
        for part in reversed(path[:-1]):
            update = {part: update}
        if rv:
            update.setdefault("metadata", {})["resourceVersion"] = rv
        new = storage.patch_rt(rt, ns, name, "merge", update)
    return view(rt, new)
