"""Deletion as kube-apiserver does it: preconditions, finalizers, propagation policies, graceful pods.

An object without finalizers (and, for a pod, without a grace period) goes at once with a DELETED
event. Otherwise DELETE sets `deletionTimestamp` (+ `deletionGracePeriodSeconds`) and the object
stays, MODIFIED, until its finalizers are removed or — for a pod — the kubelet confirms (DELETE with
gracePeriodSeconds=0) or the grace period ends (`lab.apiserver.gc`). `propagationPolicy` Orphan and
Foreground add the `orphan` / `foregroundDeletion` finalizers the GC acts on; namespaces carry
`kubernetes` until their content is gone; `default`, `kube-system`, `kube-public` are immortal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.apiserver import pods
from lab.apiserver.resources import ResourceType
from lab.apiserver.status import APIError, conflict
from lab.apiserver.timestamps import rfc3339

if TYPE_CHECKING:
    from lab.apiserver.store import Store

Obj = dict[str, Any]
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")  # NamespaceLifecycle admission


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    grace_period: int | None = None
    propagation: str | None = None  # Background (default), Foreground, Orphan
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False


def delete(store: Store, rt: ResourceType, ns: str | None, name: str, opts: DeleteOptions) -> Obj:
    """Delete or start deleting; returns the object as last stored (deletionTimestamp if kept)."""
    with store.lock:
        old = store.current(rt, ns or "", name)
        om = old["metadata"]
        for what, wanted, actual in (
            ("UID", opts.uid, om.get("uid")),
            ("ResourceVersion", opts.resource_version, om.get("resourceVersion")),
        ):
            if wanted and wanted != actual:
                raise conflict(
                    rt.plural,
                    rt.group,
                    name,
                    f"Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {actual}",
                )
        if rt.kind == "Namespace" and name in IMMORTAL_NAMESPACES:
            raise APIError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                {"name": name, "kind": "namespaces"},
            )
        if opts.dry_run:
            return old
        finalizers = list(om.get("finalizers") or [])
        if opts.propagation == "Orphan" and "orphan" not in finalizers and store._dependents.get(om["uid"]):
            finalizers.append("orphan")
        elif opts.propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if rt.kind == "Namespace" and "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        grace = pods.grace_period(old, opts.grace_period) if rt.kind == "Pod" else 0
        if grace == 0 and not finalizers:
            gone = store._commit(rt, "DELETED", dict(old), old)
            store._after_removed(rt, gone)
            return gone
        return _start_deletion(store, rt, old, grace, finalizers)


def _start_deletion(store: Store, rt: ResourceType, old: Obj, grace: int, finalizers: list[str]) -> Obj:
    om = old["metadata"]
    now = store.clock()
    if om.get("deletionTimestamp"):
        current = om.get("deletionGracePeriodSeconds", 0)
        if grace >= current and finalizers == (om.get("finalizers") or []):
            return old
        grace = min(grace, current)
        if grace == 0 and not om.get("finalizers"):
            gone = store._commit(rt, "DELETED", dict(old), old)
            store._after_removed(rt, gone)
            return gone
    new = dict(old)
    meta = new["metadata"] = dict(om)
    meta["deletionTimestamp"] = rfc3339(now + grace)
    meta["deletionGracePeriodSeconds"] = grace
    meta["finalizers"] = finalizers
    if "generation" in meta:
        meta["generation"] = int(meta["generation"]) + 1
    if rt.kind == "Namespace":
        new["status"] = {"phase": "Terminating"}
    stored = store._commit(rt, "MODIFIED", new, old)
    if grace > 0:
        for callback in store.on_graceful:
            callback(rt, stored, now + grace)
    for callback in store.on_deleting:
        callback(rt, stored)
    return stored


def remove_finalizer(store: Store, rt: ResourceType, ns: str, name: str, uid: str, finalizer: str) -> None:  # noqa: PLR0917
    """Drop one finalizer (GC and namespace controller use this); the object goes if none remain."""
    with store.lock:
        obj = store._bucket(rt).get((ns, name))
        if obj is None or obj["metadata"].get("uid") != uid:
            return
        fins = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        new = dict(obj)
        new["metadata"] = dict(obj["metadata"], finalizers=fins)
        if not fins:
            del new["metadata"]["finalizers"]
        store._write(rt, obj, new, "", False)


def expire_grace(store: Store, rt: ResourceType, ns: str, name: str, uid: str) -> None:
    """The grace period of a terminating pod ended (no kubelet confirmed): remove it."""
    with store.lock:
        obj = store._bucket(rt).get((ns, name))
        if obj is None or obj["metadata"].get("uid") != uid or not obj["metadata"].get("deletionTimestamp"):
            return
        if obj["metadata"].get("finalizers"):
            return
        gone = store._commit(rt, "DELETED", dict(obj), obj)
        store._after_removed(rt, gone)
