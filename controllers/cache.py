"""The controllers' view of the cluster: one informer per kind plus the indexes decisions need.

Only fip pods are kept (asking for `fip.io/ip` or carrying `fip.io/allocation`; a pod's
resources cannot change, so no other pod can ever hold a record). They are indexed by UID (the
planner's "is this pod live") and by owner workload key (what a release reconcile looks at). A
pod's DELETED event leaves a tombstone (its UID, kept `TOMBSTONE_TTL` seconds): positive
evidence that the pod is gone, so its IP can be released at once instead of after the grace
period. A deletion no event showed (it happened while this process was not running) has the
pod list as evidence: `listed_gone` (a record older than the last list whose pod the list did
not hold). Finished pods (Succeeded/Failed) stay in the index; the
planner treats them as gone.

`listeners` get the owner workload key of every change (pods: their owner; workloads: themselves)
so the release controller can queue it. `synced()` is true only while every informer is synced:
a decision on a negative ("no pod holds this UID") needs complete caches, and an informer
re-listing after a 410 clears its `synced` until the new list is in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fip.core.annotation import KEY as ALLOCATION
from fip.core.kubeview import KINDS, PodView, bare_pod_state, owner_state, pod_view, workload_key
from fip.core.owner import OwnerKey, OwnerKind
from fip.core.podrequest import wants_ip
from fip.core.record import AllocationRecord
from fip.core.releaseplan import LivePod, OwnerState
from fip.kube.informer import Informer
from fip.kube.resources import DEPLOYMENTS, PODS, POOLS, REPLICASETS, STATEFULSETS, SUBNETS, TAPPS, Resource

log = logging.getLogger("fip.controllers")
Obj = dict[str, Any]
Listener = Callable[[OwnerKey], None]
TOMBSTONE_TTL = 600.0
WORKLOADS: dict[str, Resource] = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS, "TApp": TAPPS}
RESOURCES: dict[str, Resource] = {"Pod": PODS, "ReplicaSet": REPLICASETS, **WORKLOADS}
RESOURCES |= {"Subnet": SUBNETS, "Pool": POOLS}


class ClusterCache:
    def __init__(
        self,
        client: Any,
        *,
        resync: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._pods_listed_at: float | None = None
        timed = _TimedLists(client, self._listed, wall)
        self.informers = {
            kind: Informer(timed if kind == "Pod" else client, res, resync=resync, name=res.plural)
            for kind, res in RESOURCES.items()
        }
        self.listeners: list[Listener] = []
        self.problems: list[Callable[[Obj, str], None]] = []  # (object, message) for events
        self._clock = clock
        self._lock = threading.Lock()
        self._by_uid: dict[str, PodView] = {}
        self._live: dict[str, LivePod] = {}
        self._by_owner: dict[OwnerKey, set[str]] = {}
        self._by_name: dict[tuple[str, str], PodView] = {}
        self._gone: dict[str, float] = {}
        self.informers["Pod"].add_handler(self._on_pod)
        for kind in WORKLOADS:
            self.informers[kind].add_handler(self._on_workload(kind))

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> None:
        for inf in self.informers.values():
            inf.start()

    def stop(self) -> None:
        for inf in self.informers.values():
            inf.stop()

    def synced(self) -> bool:
        return all(inf.synced.is_set() for inf in self.informers.values())

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(inf.wait_synced(max(0.0, deadline - time.monotonic())) for inf in self.informers.values())

    # -- handlers (informer threads; quick) ----------------------------------------------------

    def deployment_of(self, namespace: str, replicaset: str) -> str | None:
        rs = self.informers["ReplicaSet"].get(f"{namespace}/{replicaset}")
        if rs is None:
            return None
        for ref in (rs.get("metadata") or {}).get("ownerReferences") or []:
            if isinstance(ref, Mapping) and ref.get("controller") is True and ref.get("kind") == "Deployment":
                return str(ref.get("name"))
        return ""

    def _on_pod(self, kind: str, obj: Obj, old: Obj | None) -> None:
        uid = (obj.get("metadata") or {}).get("uid")
        if not isinstance(uid, str) or not uid:
            return
        keys: set[OwnerKey] = set()
        with self._lock:
            prev = self._by_uid.pop(uid, None)
            if prev is not None:
                keys.add(prev.owner.workload())
                self._unindex(prev)
            if kind == "DELETED":
                self._gone[uid] = self._clock()
                self._expire()
            elif not _fip_pod(obj):
                return  # neither asks for an IP nor carries one: nothing of ours (most pods)
            else:
                try:
                    view = pod_view(obj, self.deployment_of, owner_from_annotation=True)
                except Exception as err:  # a pod we cannot read: logged, never decides anything
                    log.warning("pod %s: %s", (obj.get("metadata") or {}).get("name"), err)
                    view = None
                if view is not None:
                    self._index(view)
                    keys.add(view.owner.workload())
                    if view.problems and (prev is None or prev.problems != view.problems):
                        for fn in self.problems:
                            for msg in view.problems:
                                fn(obj, msg)
        for key in keys:
            self._notify(key)

    def _index(self, view: PodView) -> None:
        self._by_uid[view.uid] = view
        self._live[view.uid] = view.live()
        self._by_owner.setdefault(view.owner.workload(), set()).add(view.uid)
        self._by_name[(view.namespace, view.name)] = view

    def _unindex(self, view: PodView) -> None:
        self._live.pop(view.uid, None)
        uids = self._by_owner.get(view.owner.workload())
        if uids is not None:
            uids.discard(view.uid)
            if not uids:
                del self._by_owner[view.owner.workload()]
        if self._by_name.get((view.namespace, view.name)) is view:
            del self._by_name[(view.namespace, view.name)]

    def _expire(self) -> None:
        cutoff = self._clock() - TOMBSTONE_TTL
        if len(self._gone) > 1000 or next(iter(self._gone.values()), cutoff + 1) < cutoff:
            self._gone = {u: t for u, t in self._gone.items() if t >= cutoff}

    def _on_workload(self, kind: str) -> Callable[[str, Obj, Obj | None], None]:
        def handler(_event: str, obj: Obj, _old: Obj | None) -> None:
            key = workload_key(kind, obj)
            if key is not None:
                self._notify(key)

        return handler

    def _notify(self, key: OwnerKey) -> None:
        for fn in self.listeners:
            fn(key)

    # -- reads ---------------------------------------------------------------------------------

    def live(self) -> Mapping[str, LivePod]:
        """UID -> pod for every known pod (finished ones included). A live view: read it while
        planning; do not keep it."""
        return self._live

    def _listed(self, at: float) -> None:
        """The pod informer's last successful list was requested at wall time `at`."""
        self._pods_listed_at = at

    def listed_gone(self, records: Iterable[AllocationRecord], skew: float) -> set[str]:
        """Pod UIDs of `records` proven deleted by the pod list: the record last changed more
        than `skew` seconds (writers' clock error) before the last list was requested, so its
        pod existed then (a record only ever names a pod that exists), and the synced cache,
        complete since that list, does not hold it. Empty unless the pod cache is synced across
        the whole check (a re-list in between would pair a new list time with a stale cache)."""
        pods = self.informers["Pod"]
        at = self._pods_listed_at
        if at is None or not pods.synced.is_set():
            return set()
        with self._lock:
            out = {
                r.pod_uid
                for r in records
                if r.pod_uid and r.pod_uid not in self._live and max(r.updated_at, r.created_at) < at - skew
            }
        if not pods.synced.is_set() or self._pods_listed_at != at:
            return set()
        return out

    def gone(self) -> set[str]:
        with self._lock:
            return set(self._gone)

    def pods(self) -> list[PodView]:
        with self._lock:
            return list(self._by_uid.values())

    def pods_of(self, key: OwnerKey) -> list[PodView]:
        with self._lock:
            return [self._by_uid[u] for u in self._by_owner.get(key, ())]

    def owner_keys(self) -> set[OwnerKey]:
        """Every workload key the cache shows (workload objects and pods' owners)."""
        with self._lock:
            keys = set(self._by_owner)
        for kind in WORKLOADS:
            for obj in self.informers[kind].items():
                key = workload_key(kind, obj)
                if key is not None:
                    keys.add(key)
        return keys

    def workload(self, key: OwnerKey) -> Obj | None:
        inf = self.informers.get(key.kind.value)
        if inf is None or key.kind is OwnerKind.POD:
            return None
        return inf.get(f"{key.namespace}/{key.name}")

    def owner_state(self, key: OwnerKey) -> tuple[OwnerState, list[str]]:
        if key.kind is OwnerKind.POD:
            with self._lock:
                return bare_pod_state(key, self._by_name), []
        return owner_state(key.kind.value, self.workload(key), key)


class _TimedLists:
    """The pod informer's client: notes when each successful list was requested, the moment
    from which the cache is complete (a quorum list holds every pod that existed then)."""

    def __init__(
        self, client: Any, note: Callable[[float], None], wall: Callable[[], float] = time.time
    ) -> None:
        self._client, self._note, self._wall = client, note, wall

    def list(self, *args: Any, **kw: Any) -> Any:
        at = self._wall()
        out = self._client.list(*args, **kw)
        self._note(at)
        return out

    def watch(self, *args: Any, **kw: Any) -> Any:
        return self._client.watch(*args, **kw)


def _fip_pod(obj: Obj) -> bool:
    notes = (obj.get("metadata") or {}).get("annotations")
    return (type(notes) is dict and ALLOCATION in notes) or wants_ip(obj)


__all__ = ["KINDS", "RESOURCES", "WORKLOADS", "ClusterCache"]
