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

import bisect
import copy
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from lab.apiserver import crds, defaults, patch, pods, specs, validation
from lab.apiserver.history import Change, History
from lab.apiserver.resources import Registry, ResourceType
from lab.apiserver.selectors import Matcher
from lab.apiserver.status import (
    STALE,
    APIError,
    already_exists,
    bad_request,
    conflict,
    expired,
    invalid,
    not_found,
)

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped
SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")  # NamespaceLifecycle admission


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    grace_period: int | None = None
    propagation: str | None = None  # Background (default), Foreground, Orphan
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False


@dataclass(slots=True)
class ListResult:
    items: list[Obj]
    resource_version: str
    continue_token: str
    remaining: int | None
    encoded: list[bytes]  # the items as JSON, serialised once at write time (same order)


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

    def create_rt(  # noqa: PLR0912
        self, rt: ResourceType, ns: str | None, body: Any, *, dry_run: bool = False, keep_status: bool = False
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
        defaults.apply_create_defaults(rt, obj, self.cluster_ips, keep_status)
        with self.lock:
            if rt.namespaced:
                self._check_namespace(rt, ns)
            if not meta.get("name"):
                meta["name"] = self._generate_name(rt, ns, meta["generateName"])
            validation.validate(rt, obj)
            if (ns, meta["name"]) in self._bucket(rt):
                raise already_exists(rt.plural, rt.group, meta["name"])
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = self.now()
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
            return self._write(rt, old, body, subresource, dry_run)

    def _write(self, rt: ResourceType, old: Obj, body: Obj, subresource: str, dry_run: bool) -> Obj:  # noqa: PLR0912
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
            changed = specs.update_causes(rt, old, new)
            if changed:
                raise invalid(rt.kind, rt.group, om["name"], changed)
        validation.validate(rt, new)
        if new == old:
            return old
        if "generation" in meta and _spec_of(new) != _spec_of(old):
            meta["generation"] = int(meta["generation"]) + 1
        if dry_run:
            return new
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and self._deletion_done(rt, new):
            gone = self._commit(rt, "DELETED", new, old)
            self._after_removed(rt, gone)
            return gone
        return self._commit(rt, "MODIFIED", new, old)

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
    ) -> Obj:
        """Apply a `json`, `merge`, `strategic` or `apply` patch to the current object."""
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
            return self._write(rt, old, patched, subresource, dry_run)

    # ----- delete --------------------------------------------------------------------------------

    def delete_rt(self, rt: ResourceType, ns: str | None, name: str, opts: DeleteOptions) -> Obj:
        """Delete or start deleting; returns the object as last stored (deletionTimestamp if kept)."""
        with self.lock:
            old = self.current(rt, ns or "", name)
            om = old["metadata"]
            if opts.uid and opts.uid != om.get("uid"):
                raise conflict(
                    rt.plural,
                    rt.group,
                    name,
                    f"Precondition failed: UID in precondition: {opts.uid}, UID in object meta: {om.get('uid')}",
                )
            if opts.resource_version and opts.resource_version != om.get("resourceVersion"):
                raise conflict(
                    rt.plural,
                    rt.group,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {opts.resource_version}, ResourceVersion in object meta: {om.get('resourceVersion')}",
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
            if (
                opts.propagation == "Orphan"
                and "orphan" not in finalizers
                and self._dependents.get(om["uid"])
            ):
                finalizers.append("orphan")
            elif opts.propagation == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if rt.kind == "Namespace" and "kubernetes" not in finalizers:
                finalizers.append("kubernetes")
            grace = pods.grace_period(old, opts.grace_period) if rt.kind == "Pod" else 0
            if grace == 0 and not finalizers:
                gone = self._commit(rt, "DELETED", dict(old), old)
                self._after_removed(rt, gone)
                return gone
            return self._start_deletion(rt, old, grace, finalizers)

    def _start_deletion(self, rt: ResourceType, old: Obj, grace: int, finalizers: list[str]) -> Obj:
        om = old["metadata"]
        now = self.clock()
        if om.get("deletionTimestamp"):
            current = om.get("deletionGracePeriodSeconds", 0)
            if grace >= current and finalizers == (om.get("finalizers") or []):
                return old
            grace = min(grace, current)
            if grace == 0 and not om.get("finalizers"):
                gone = self._commit(rt, "DELETED", dict(old), old)
                self._after_removed(rt, gone)
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
        stored = self._commit(rt, "MODIFIED", new, old)
        if grace > 0:
            for callback in self.on_graceful:
                callback(rt, stored, now + grace)
        for callback in self.on_deleting:
            callback(rt, stored)
        return stored

    def remove_finalizer(self, rt: ResourceType, ns: str, name: str, uid: str, finalizer: str) -> None:
        """Drop one finalizer (GC and namespace controller use this); the object goes if none remain."""
        with self.lock:
            obj = self._bucket(rt).get((ns, name))
            if obj is None or obj["metadata"].get("uid") != uid:
                return
            fins = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
            new = dict(obj)
            new["metadata"] = dict(obj["metadata"], finalizers=fins)
            if not fins:
                del new["metadata"]["finalizers"]
            self._write(rt, obj, new, "", False)

    def expire_grace(self, rt: ResourceType, ns: str, name: str, uid: str) -> None:
        """The grace period of a terminating pod ended (no kubelet confirmed): remove it."""
        with self.lock:
            obj = self._bucket(rt).get((ns, name))
            if (
                obj is None
                or obj["metadata"].get("uid") != uid
                or not obj["metadata"].get("deletionTimestamp")
            ):
                return
            if obj["metadata"].get("finalizers"):
                return
            gone = self._commit(rt, "DELETED", dict(obj), obj)
            self._after_removed(rt, gone)

    def wait_for_rv(self, rv: int, timeout: float) -> None:
        """Block until the store has reached `rv`; 504 'Too large resource version' after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.history.rv < rv:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise APIError(
                        504,
                        "Timeout",
                        f"Too large resource version: {rv}, current: {self.history.rv}",
                        {
                            "causes": [
                                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                            ],
                            "retryAfterSeconds": 1,
                        },
                    )
                self.cond.wait(left)

    def drop_all(self, key: str) -> None:
        """Remove every object of one resource (its CRD was deleted), each with a DELETED event."""
        with self.lock:
            try:
                rt = self.registry.lookup(key)
            except KeyError:
                return
            for obj in list(self._bucket(rt).values()):
                self._commit(rt, "DELETED", dict(obj), obj)

    # ----- reads ---------------------------------------------------------------------------------

    def _as_of(
        self, rt: ResourceType, rv: int, bucket: dict[Key, Obj], encoded: dict[Key, bytes], keys: list[Key]
    ) -> tuple[dict[Key, Obj], dict[Key, bytes], list[Key]]:
        """The resource's objects as they were at `rv`, undoing later changes (continue pages are a
        consistent snapshot, as etcd serves them)."""
        undo: dict[Key, Obj | None] = {}
        for change in reversed(self.history.since(rv)):
            if change.key == rt.key:
                m = change.obj["metadata"]
                undo[(change.namespace, m["name"])] = change.old
        if not undo:
            return bucket, encoded, keys
        then = {k: o for k, o in bucket.items() if k not in undo}
        then.update({k: o for k, o in undo.items() if o is not None})
        raw = {k: encoded[k] if k not in undo else orjson.dumps(then[k]) for k in then}
        return then, raw, sorted(then)

    def list_rt(
        self,
        rt: ResourceType,
        ns: str | None,
        matcher: Matcher | None = None,
        *,
        limit: int = 0,
        cont: str = "",
        as_of: int | None = None,
    ) -> ListResult:
        """Sorted by namespace/name (etcd key order); `cont` pages and `as_of` read a past snapshot."""
        start: Key | None = None
        rv0 = 0
        if as_of is not None and not cont:
            with self.lock:
                if as_of > self.history.rv:
                    raise APIError(
                        504, "Timeout", f"Too large resource version: {as_of}, current: {self.history.rv}"
                    )
                self.history.check(as_of)
            rv0, cont = as_of, "exact"
        elif cont:
            start, rv0 = _decode_continue(cont)
            with self.lock:
                if rv0 < self.history.compacted_rv:
                    raise expired(_CONTINUE_EXPIRED)
        with self.lock:
            rv = self.history.rv
            bucket = self._bucket(rt)
            keys = self._sorted.get(rt.key)
            if keys is None:
                keys = self._sorted[rt.key] = sorted(bucket)
            encoded = self._encoded.get(rt.key, {})
            if cont and rv0 < rv:
                bucket, encoded, keys = self._as_of(rt, rv0, bucket, encoded, keys)
            if ns:
                keys = keys[bisect.bisect_left(keys, (ns, "")) : bisect.bisect_left(keys, (ns + "\x00", ""))]
            if start is not None:
                keys = keys[bisect.bisect_right(keys, start) :]
            if matcher is not None:
                keys = [k for k in keys if matcher(bucket[k])]
            if limit and len(keys) > limit:
                remaining = len(keys) - limit
                keys = keys[:limit]
                token = _encode_continue(keys[-1], rv0 if cont else rv)
            else:
                remaining, token = None, ""
            objs = [bucket[k] for k in keys]
            raws = [encoded[k] for k in keys]
        return ListResult(objs, str(rv0 if cont else rv), token, remaining, raws)


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


_UNSUPPORTED_SMP = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
)
_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


def _encode_continue(start: Key, rv: int) -> str:
    import base64

    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{start[0]}/{start[1]}"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[Key, int]:
    import base64

    try:
        raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ns, _, name = str(raw["start"]).partition("/")
        return (ns, name), int(raw["rv"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise bad_request(f"continue key is not valid: {token!r}") from None
