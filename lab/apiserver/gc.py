"""Background work the real control plane does after a DELETE: one thread, one queue.

- Garbage collection by ownerReference (the kube-controller-manager GC): when an object is gone,
  each dependent whose owners are now all gone is deleted (background propagation, the default);
  a dependent that still has a live owner just loses the dangling reference.
  `propagationPolicy=Orphan` strips the references instead (the `orphan` finalizer);
  `Foreground` deletes the dependents first and the owner when none is left (`foregroundDeletion`).
- Namespace deletion (the namespace controller): a terminating namespace's content is deleted, then
  the namespace itself.
- The grace-period reaper: a terminating pod nobody confirmed is removed when its grace ends.

Work happens asynchronously, a few milliseconds after the DELETE, as on a real cluster; tests wait
for the DELETED events rather than expecting dependents gone when DELETE returns.
"""

from __future__ import annotations

import contextlib
import heapq
import queue
import threading
import time
from typing import Any

from lab.apiserver.deletion import DeleteOptions
from lab.apiserver.resources import ResourceType
from lab.apiserver.status import APIError
from lab.apiserver.store import Store

Obj = dict[str, Any]
RECHECK_S = 0.05


class Collector:
    def __init__(self, storage: Store) -> None:
        self.storage = storage
        self._queue: queue.Queue[tuple[str, ResourceType, Obj] | None] = queue.Queue()
        self._timers: list[tuple[float, int, ResourceType, Obj]] = []
        self._seq = 0
        self._pending: list[tuple[str, ResourceType, Obj]] = []  # waiting for dependents/content to go
        self._stop = threading.Event()
        storage.on_removed.append(lambda rt, obj: self._queue.put(("removed", rt, obj)))
        storage.on_deleting.append(lambda rt, obj: self._queue.put(("deleting", rt, obj)))
        storage.on_graceful.append(self._add_timer)
        storage.on_owned.append(lambda rt, obj: self._queue.put(("owned", rt, obj)))
        self._thread = threading.Thread(target=self._run, name="apiserver-gc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _add_timer(self, rt: ResourceType, obj: Obj, deadline: float) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (deadline, self._seq, rt, obj))
        self._queue.put(("wake", rt, obj))

    def _run(self) -> None:
        while not self._stop.is_set():
            timeout = RECHECK_S if self._pending else 1.0
            if self._timers:
                timeout = min(timeout, max(0.0, self._timers[0][0] - time.time()))
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is not None:
                with contextlib.suppress(APIError):
                    self._handle(*item)
            self._fire_timers()
            pending, self._pending = self._pending, []
            for entry in pending:
                with contextlib.suppress(APIError):
                    self._handle(*entry)

    def _fire_timers(self) -> None:
        now = time.time()
        while self._timers and self._timers[0][0] <= now:
            _, _, rt, obj = heapq.heappop(self._timers)
            m = obj["metadata"]
            self.storage.expire_grace(rt, m.get("namespace", ""), m["name"], m["uid"])

    def _handle(self, what: str, rt: ResourceType, obj: Obj) -> None:
        if what == "removed":
            self._collect_dependents(obj)
        elif what == "owned":
            self._check_owners(rt, obj)
        elif what == "deleting":
            self._finalize(rt, obj)

    def _collect_dependents(self, owner: Obj) -> None:
        for rt, dep in self.storage.dependents(owner["metadata"]["uid"]):
            self._check_owners(rt, dep)

    def _check_owners(self, rt: ResourceType, dep: Obj) -> None:
        """All owners gone: delete the dependent; some gone: drop the dangling references."""
        m = dep["metadata"]
        ns = m.get("namespace", "")
        with self.storage.lock:
            current = self.storage._bucket(rt).get((ns, m["name"]))
            if current is None or current["metadata"].get("uid") != m["uid"]:
                return
            refs = current["metadata"].get("ownerReferences") or []
            alive = [r for r in refs if self.storage.owner_exists(r, ns)]
        if len(alive) == len(refs):
            return
        if alive:
            self._set_owner_refs(rt, current, alive)
        elif not current["metadata"].get("deletionTimestamp"):
            self.storage.delete_rt(rt, ns, m["name"], DeleteOptions(uid=m["uid"]))

    def _set_owner_refs(self, rt: ResourceType, dep: Obj, refs: list[Obj]) -> None:
        m = dep["metadata"]
        body: Obj = {"metadata": {"ownerReferences": refs or None, "uid": m["uid"]}}
        self.storage.patch_rt(rt, m.get("namespace", ""), m["name"], "merge", body)

    def _finalize(self, rt: ResourceType, obj: Obj) -> None:
        m = obj["metadata"]
        ns, name, uid = m.get("namespace", ""), m["name"], m["uid"]
        with self.storage.lock:
            current = self.storage._bucket(rt).get((ns, name))
        if current is None or current["metadata"].get("uid") != uid:
            return
        fins = current["metadata"].get("finalizers") or []
        if "orphan" in fins:
            for drt, dep in self.storage.dependents(uid):
                refs = [r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
                self._set_owner_refs(drt, dep, refs)
            self.storage.remove_finalizer(rt, ns, name, uid, "orphan")
        elif "foregroundDeletion" in fins:
            deps = self.storage.dependents(uid)
            for drt, dep in deps:
                dm = dep["metadata"]
                if not dm.get("deletionTimestamp"):
                    with contextlib.suppress(APIError):
                        self.storage.delete_rt(drt, dm.get("namespace", ""), dm["name"], DeleteOptions())
            if deps:
                self._pending.append(("deleting", rt, current))
            else:
                self.storage.remove_finalizer(rt, ns, name, uid, "foregroundDeletion")
        elif rt.kind == "Namespace" and "kubernetes" in fins:
            if self._empty_namespace(name):
                self.storage.remove_finalizer(rt, ns, name, uid, "kubernetes")
            else:
                self._pending.append(("deleting", rt, current))

    def _empty_namespace(self, ns: str) -> bool:
        empty = True
        for rt in self.storage.registry.all():
            if not rt.namespaced:
                continue
            for obj in self.storage.list_rt(rt, ns).items:
                empty = False
                if not obj["metadata"].get("deletionTimestamp"):
                    with contextlib.suppress(APIError):
                        self.storage.delete_rt(rt, ns, obj["metadata"]["name"], DeleteOptions())
        return empty
