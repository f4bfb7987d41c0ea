"""The object store with kube-apiserver's write semantics (`Store`; `Storage` adds the in-process API).

One lock guards every object and the `History`. Stored objects are never mutated after they are
stored — every write stores a new dict — so reads (lists of 100,000 pods, watch events) hand out
references without copying; the HTTP layer serialises them. Methods ending in `_rt` take a
`ResourceType` and return stored objects, which callers must not mutate.

Semantics (see the package README for the full list): server-set uid, creationTimestamp,
generation and resourceVersion; 409 on a stale resourceVersion; no-op writes change nothing and
emit nothing; `status` is only written through the status subresource where one exists; objects
with finalizers stay (with deletionTimestamp) until the finalizers are gone; pods get graceful
deletion (`lab.apiserver.pods`); dependents are collected by ownerReference (`lab.apiserver.gc`).
"""

# ruff: noqa: E501  (error messages are kube-apiserver's, verbatim)

from __future__ import annotations

import contextlib
import copy
import random
import threading
import time
import uuid
from typing import Any

import orjson

from lab.apiserver import apply as applying
from lab.apiserver import (
    constraints,
    crds,
    defaults,
    deletion,
    listing,
    patch,
    pods,
    specs,
    timestamps,
    validation,
)
from lab.apiserver.deletion import DeleteOptions
from lab.apiserver.history import Change, History
from lab.apiserver.resources import Registry, ResourceType
from lab.apiserver.status import (
    STALE,
    APIError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
)
from lab.apiserver.timestamps import rfc3339

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped
SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


class Store:
    def __init__(self, registry: Registry, history_capacity: int = 250_000, start_rv: int = 1000) -> None:
        self.registry = registry
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.history = History(self.cond, history_capacity, start_rv)
        self._objects: dict[str, dict[Key, Obj]] = {}
        self._encoded: dict[str, dict[Key, bytes]] = {}  # JSON of each stored object (lists, watches)
        self._sorted: dict[str, list[Key]] = {}  # sorted keys per resource; dropped on add/remove
        self._dependents: dict[str, set[tuple[str, str, str]]] = {}  # owner uid -> {(rkey, ns, name)}
        self.cluster_ips = defaults.ClusterIPs()
        self.lab_budgets: set[str] = (
            set()
        )  # uids of PDBs whose status the lab computes (lab.apiserver.disruption)
        self.clock = time.time
        self.on_removed: list[Any] = []  # callbacks(rt, obj) after an object is gone (GC hooks)
        self.on_deleting: list[Any] = []  # callbacks(rt, obj) when deletion starts (finalizers)
        self.on_graceful: list[Any] = []
        self.on_owned: list[
            Any
        ] = []  # callbacks(rt, obj) when ownerReferences are set (GC checks owners)  # callbacks(rt, obj, deadline) for the grace-period reaper

    # ----- helpers -------------------------------------------------------------------------------

    def rt(self, resource: str | ResourceType) -> ResourceType:
        return resource if isinstance(resource, ResourceType) else self.registry.lookup(resource)

    def _bucket(self, rt: ResourceType) -> dict[Key, Obj]:
        return self._objects.setdefault(rt.key, {})

    def _ns(self, rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rt.namespaced else ""

    def now(self) -> str:
        return rfc3339(self.clock())

    @property
    def resource_version(self) -> str:
        return str(self.history.rv)

    def current(self, rt: ResourceType, ns: str, name: str) -> Obj:
        obj = self._bucket(rt).get((self._ns(rt, ns), name))
        if obj is None:
            raise not_found(rt.plural, rt.group, name)
        return obj

    def _commit(self, rt: ResourceType, etype: str, new: Obj, old: Obj | None) -> Obj:
        """Give `new` the next resourceVersion, store it (or remove it for DELETED), log it."""
        rv = self.history.next_rv()
        meta = new["metadata"] = dict(new["metadata"])
        meta["resourceVersion"] = str(rv)
        ns = meta.get("namespace", "") if rt.namespaced else ""
        key = (ns, meta["name"])
        raw = orjson.dumps(new)
        bucket, encoded = self._bucket(rt), self._encoded.setdefault(rt.key, {})
        if etype == "DELETED":
            bucket.pop(key, None)
            encoded.pop(key, None)
            self._sorted.pop(rt.key, None)
        else:
            if key not in bucket:
                self._sorted.pop(rt.key, None)
            bucket[key] = new
            encoded[key] = raw
        self._index_owners(rt, key, old, None if etype == "DELETED" else new)
        refs = meta.get("ownerReferences")
        if refs and etype != "DELETED" and (old is None or old["metadata"].get("ownerReferences") != refs):
            for callback in self.on_owned:
                callback(rt, new)
        self.history.append(Change(rv, rt.key, ns, etype, new, old, raw))
        return new

    def _index_owners(self, rt: ResourceType, key: Key, old: Obj | None, new: Obj | None) -> None:
        ref = (rt.key, key[0], key[1])
        for obj, add in ((old, False), (new, True)):
            for owner in ((obj or {}).get("metadata") or {}).get("ownerReferences") or []:
                uid = owner.get("uid", "")
                if add:
                    self._dependents.setdefault(uid, set()).add(ref)
                else:
                    self._dependents.get(uid, set()).discard(ref)

    def dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        out = []
        with self.lock:
            for rkey, ns, name in list(self._dependents.get(uid, ())):
                rt = self.registry.lookup(rkey)
                obj = self._bucket(rt).get((ns, name))
                if obj is not None:
                    out.append((rt, obj))
        return out

    def owner_exists(self, ref: Obj, namespace: str) -> bool:
        """Whether the object an ownerReference names exists with that uid (the GC's owner lookup)."""
        group = ref.get("apiVersion", "").rpartition("/")[0]
        for rt in self.registry.all():
            if rt.kind == ref.get("kind") and rt.group == group:
                obj = self._bucket(rt).get((namespace if rt.namespaced else "", ref.get("name", "")))
                return obj is not None and obj["metadata"].get("uid") == ref.get("uid")
        return False

    # ----- create --------------------------------------------------------------------------------

    def create_rt(  # noqa: PLR0912, PLR0915
        self,
        rt: ResourceType,
        ns: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        keep_status: bool = False,
        manager: str = "",
    ) -> Obj:
        """Create from a freshly decoded body (which this takes ownership of)."""
        validation.check_shape(rt, body)
        obj: Obj = body
        meta = obj["metadata"] = dict(obj.get("metadata") or {})
        if rt.namespaced:
            if meta.get("namespace") and ns and meta["namespace"] != ns:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            ns = ns or meta.get("namespace") or "default"
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
            ns = ""
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if meta.get("resourceVersion"):
            raise APIError(
                500,
                "InternalError",
                "Internal error occurred: resourceVersion should not be set on objects to be created",
            )
        validation.require_name(rt, meta)
        for k in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
        ):
            meta.pop(k, None)
        explicit_ip = isinstance(obj.get("spec"), dict) and bool(obj["spec"].get("clusterIP"))
        defaults.apply_create_defaults(rt, obj, self.cluster_ips, keep_status)
        if not rt.custom:
            timestamps.normalize(rt.kind, obj)
            constraints.normalize(rt, obj, None)
        if manager and rt.kind == "Pod" and not rt.group:  # admission plugins run for API requests only
            defaults.pod_admission(obj)
        if manager and rt.kind == "Node" and not rt.group:
            defaults.node_admission(obj)
        with self.lock:
            if rt.namespaced:
                self._check_namespace(rt, ns)
            if not meta.get("name"):
                meta["name"] = self._generate_name(rt, ns, meta["generateName"])
            validation.validate(rt, obj)
            if rt.kind == "Service" and not rt.group:
                self._claim_cluster_ip(rt, obj, explicit_ip)
            if (ns, meta["name"]) in self._bucket(rt):
                raise already_exists(rt.plural, rt.group, meta["name"])
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = self.now()
            if manager and not meta.get("managedFields"):
                applying.record_create(
                    obj, manager, rt.api_version, meta["creationTimestamp"], keyed=not rt.custom
                )
            if rt.kind not in defaults.NO_GENERATION:
                meta["generation"] = 1
            if rt.kind == "CustomResourceDefinition":
                crds.check(obj)
                obj["status"] = crds.status(obj, meta["creationTimestamp"])
            if rt.kind == "Job" and rt.group == "batch":
                defaults.job_defaults(obj)
            if dry_run:
                return obj
            stored = self._commit(rt, "ADDED", obj, None)
            if rt.kind == "CustomResourceDefinition":
                crds.register(self, stored)
            if rt.kind == "Namespace":  # the serviceaccount controller's part: a `default` account
                self.create_rt(
                    self.registry.lookup("serviceaccounts"), meta["name"], {"metadata": {"name": "default"}}
                )
            return stored

    def _claim_cluster_ip(self, rt: ResourceType, obj: Obj, explicit: bool) -> None:
        """Explicit ClusterIPs must be free (422); allocated ones skip any taken explicitly."""
        services = list(self._bucket(rt).values())
        spec = obj["spec"]
        if explicit:
            taken = constraints.cluster_ip_taken(spec, services)
            if taken:
                raise invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), taken)
            return
        while spec.get("clusterIP") and constraints.cluster_ip_taken(spec, services):
            spec["clusterIP"] = self.cluster_ips.next()
            spec["clusterIPs"] = [spec["clusterIP"]]

    def _check_namespace(self, rt: ResourceType, ns: str) -> None:
        nst = self.registry.lookup("namespaces")
        nso = self._bucket(nst).get(("", ns))
        if nso is None:
            raise not_found("namespaces", "", ns)
        if nso["metadata"].get("deletionTimestamp"):
            raise APIError(
                403,
                "Forbidden",
                f'{rt.plural} "{ns}" is forbidden: unable to create new content in namespace {ns} '
                "because it is being terminated",
                {"name": ns, "kind": rt.plural},
            )

    def _generate_name(self, rt: ResourceType, ns: str, prefix: str) -> str:
        prefix = prefix[: 63 - 5] if rt.plural in validation.LABEL_NAMES else prefix[: 253 - 5]
        for _ in range(100):
            name = prefix + "".join(random.choice(SUFFIX_CHARS) for _ in range(5))  # noqa: S311
            if (ns, name) not in self._bucket(rt):
                return name
        raise APIError(500, "InternalError", f"could not generate a unique name from {prefix!r}")

    # ----- update --------------------------------------------------------------------------------

    def update_rt(
        self,
        rt: ResourceType,
        ns: str | None,
        name: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
        manager: str = "",
    ) -> Obj:
        validation.check_shape(rt, body)
        meta = dict(body.get("metadata") or {})
        if meta.get("name") and meta["name"] != name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") and ns and meta["namespace"] != ns:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        with self.lock:
            old = self.current(rt, ns or "", name)
            rv = meta.get("resourceVersion")
            uid = meta.get("uid")
            if uid and uid != old["metadata"]["uid"]:
                raise conflict(
                    rt.plural,
                    rt.group,
                    name,
                    f"Precondition failed: UID in precondition: {uid}, UID in object meta: {old['metadata']['uid']}",
                )
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt.plural, rt.group, name, STALE)
            if not rv and rt.custom:
                raise invalid(
                    rt.kind,
                    rt.group,
                    name,
                    [
                        (
                            "metadata.resourceVersion",
                            "FieldValueInvalid",
                            "Invalid value: 0x0: must be specified for an update",
                        )
                    ],
                )
            return self._write(rt, old, body, subresource, dry_run, manager=manager)

    def _write(  # noqa: PLR0912, PLR0915
        self, rt: ResourceType, old: Obj, body: Obj, subresource: str, dry_run: bool, *, manager: str = ""
    ) -> Obj:
        """Turn `body` into the next version of `old` (server fields kept) and commit it if changed."""
        if subresource == "status":
            new = dict(old)
            if "status" in body:
                new["status"] = body["status"]
            else:
                new.pop("status", None)
        else:
            new = dict(body)
            if rt.has_status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        if rt.kind == "Secret":
            defaults.secret_defaults(new)
        meta = dict(new.get("metadata") or {}) if subresource != "status" else dict(old["metadata"])
        om = old["metadata"]
        for k in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ):
            if k in om:
                meta[k] = om[k]
            else:
                meta.pop(k, None)
        meta.pop("selfLink", None)
        if om.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(om.get("finalizers") or [])
            if added:
                raise invalid(
                    rt.kind,
                    rt.group,
                    om["name"],
                    [
                        (
                            "metadata.finalizers",
                            "FieldValueForbidden",
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers "
                            + str(sorted(added)),
                        )
                    ],
                )
        new["metadata"] = meta
        if subresource != "status":
            defaults.apply_update_defaults(rt, new, old)
        if not rt.custom:
            timestamps.normalize(rt.kind, new)
            constraints.normalize(rt, new, old)
            if rt.kind == "Node":
                defaults.node_lifecycle(new)
        if subresource != "status":
            changed = specs.update_causes(rt, old, new)
            if changed:
                raise invalid(rt.kind, rt.group, om["name"], changed)
        validation.validate(rt, new)
        rewritten = "managedFields" in meta and _fields_key(meta["managedFields"]) != _fields_key(
            om.get("managedFields")
        )
        if manager and not rewritten:  # a write through the API: record field ownership
            applying.record_update(old, new, manager, rt.api_version, self.now(), keyed=not rt.custom)
        elif rewritten and not meta["managedFields"]:  # [] resets ownership, as on the real server
            meta.pop("managedFields")
        elif om.get("managedFields") and "managedFields" not in meta:
            meta["managedFields"] = om["managedFields"]
        if new == old:
            return old
        annotations_changed = rt.kind == "Deployment" and meta.get("annotations") != om.get("annotations")
        if "generation" in meta and (_spec_of(new) != _spec_of(old) or annotations_changed):
            meta["generation"] = (
                int(meta["generation"]) + 1
            )  # the deployment strategy also counts annotations
        if dry_run:
            return new
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and self._deletion_done(rt, new):
            gone = self._commit(rt, "DELETED", new, old)
            self._after_removed(rt, gone)
            return gone
        stored = self._commit(rt, "MODIFIED", new, old)
        if rt.kind == "CustomResourceDefinition" and stored.get("spec") != old.get("spec"):
            crds.reregister(self, old, stored)
        return stored

    def _deletion_done(self, rt: ResourceType, obj: Obj) -> bool:
        """An object with deletionTimestamp whose finalizers are gone: may it go now?"""
        if rt.kind != "Pod":
            return True
        return obj["metadata"].get("deletionGracePeriodSeconds", 0) == 0 or pods.grace_expired(
            obj, self.clock()
        )

    def _after_removed(self, rt: ResourceType, obj: Obj) -> None:
        if rt.kind == "CustomResourceDefinition":
            crds.unregister(self, obj)
        for callback in self.on_removed:
            callback(rt, obj)

    # ----- patch ---------------------------------------------------------------------------------

    def patch_rt(
        self,
        rt: ResourceType,
        ns: str | None,
        name: str,
        patch_type: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
        manager: str = "",
        decode: Any = None,
    ) -> Obj:
        """Apply a `json`, `merge` or `strategic` patch to the current object; `decode(patched)`,
        if given, checks the result as the server's decoder would (`lab.apiserver.fields`)."""
        with self.lock:
            old = self.current(rt, ns or "", name)
            try:
                if patch_type == "json":
                    patched = patch.json_patch(old, body)
                elif patch_type == "strategic":
                    if rt.custom:
                        raise APIError(415, "UnsupportedMediaType", _UNSUPPORTED_SMP)
                    patched = patch.strategic_merge_patch(copy.deepcopy(old), body)
                else:
                    if not isinstance(body, dict):
                        raise patch.PatchError(
                            "json: cannot unmarshal array into Go value of type map[string]interface {}", True
                        )
                    patched = patch.merge_patch(copy.deepcopy(old), body)
            except patch.PatchError as e:
                if e.bad_format:
                    raise bad_request(str(e)) from None
                raise APIError(422, "Invalid", str(e)) from None
            if not isinstance(patched, dict):
                raise APIError(422, "Invalid", "the patched object is not a JSON object")
            meta = patched.get("metadata") or {}
            if not isinstance(meta, dict) or meta.get("name", name) != name:
                raise bad_request("the name of the object does not match the name on the URL")
            rv = meta.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt.plural, rt.group, name, STALE)
            validation.check_shape(rt, patched)
            if decode is not None:
                decode(patched)
            return self._write(rt, old, patched, subresource, dry_run, manager=manager)

    # ----- delete (lab.apiserver.deletion) and reads (lab.apiserver.listing) ----------------------

    def delete_rt(self, rt: ResourceType, ns: str | None, name: str, opts: DeleteOptions) -> Obj:
        """Delete or start deleting; returns the object as last stored (deletionTimestamp if kept)."""
        return deletion.delete(self, rt, ns, name, opts)

    def remove_finalizer(self, rt: ResourceType, ns: str, name: str, uid: str, finalizer: str) -> None:
        deletion.remove_finalizer(self, rt, ns, name, uid, finalizer)

    def expire_grace(self, rt: ResourceType, ns: str, name: str, uid: str) -> None:
        deletion.expire_grace(self, rt, ns, name, uid)

    def drop_all(self, key: str) -> None:
        """Remove every object of one resource (its CRD was deleted), each with a DELETED event."""
        with self.lock:
            try:
                rt = self.registry.lookup(key)
            except KeyError:
                return
            for obj in list(self._bucket(rt).values()):
                self._commit(rt, "DELETED", dict(obj), obj)

    def wait_for_rv(self, rv: int, timeout: float) -> None:
        listing.wait_for_rv(self, rv, timeout)

    # the store is list_objects' first argument, so the function serves as the method as it is
    list_rt = listing.list_objects


def _fields_key(entries: Any) -> Any:
    """managedFields compared as the server compares them: times as instants, not spellings."""
    if not isinstance(entries, list):
        return entries
    out = []
    for entry in entries:
        shown = entry
        if isinstance(entry, dict) and isinstance(entry.get("time"), str):
            with contextlib.suppress(APIError):
                shown = {**entry, "time": timestamps.encode(entry["time"], timestamps.TIME)}
        out.append(shown)
    return out


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


_UNSUPPORTED_SMP = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
)
