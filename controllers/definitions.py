"""Subnet and Pool custom resources -> the store, and their status back (the CRD controller).

Subnet `name` (level-based, from the cache):
- malformed (`fip.core.spec.parse_subnet` refuses it) or overlapping a subnet that is already in
  the store (or, both new, created earlier): not synced; condition `Ready=False` with the reason
  (`Invalid`, `Overlaps`), a Warning event and a log line. The store keeps what it had.
- otherwise `put_subnet`; a change that would orphan held IPs is refused by the store
  (`Ready=False`, `InUse`).
- every Subnet carries the finalizer `fip.io/subnet-in-use`. Deleting one asks the store to
  delete it: refused while it holds allocations (`DeletionBlocked=True`, `InUse`, the object
  stays), done otherwise (the finalizer is removed and the API server deletes the object).
- status (total / allocated / reserved / free, conditions) is written through the status
  subresource when it changed; `refresh()` re-queues every Subnet and Pool so counts follow
  allocations.
Pools the same way (`parse_pool` + `check_pool` against the stored subnets); a deleted Pool
leaves the store: nothing more is handed out under it, and the IPs counted against it keep
their pool label until they are released.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from controllers.cache import ClusterCache
from controllers.gate import Gate
from controllers.worker import work_once
from fip.core.errors import InvalidInput
from fip.core.record import IPState
from fip.core.spec import check_pool, parse_pool, parse_subnet, subnet_status
from fip.core.subnet import Pool, Subnet
from fip.kube.errors import KubeError, NotFound
from fip.kube.resources import POOLS, SUBNETS
from fip.kube.workqueue import WorkQueue
from fip.store.errors import StoreError, SubnetInUse
from fip.store.protocol import Store

log = logging.getLogger("fip.controllers.definitions")
Obj = dict[str, Any]
FINALIZER = "fip.io/subnet-in-use"
Key = tuple[str, str]  # ("Subnet" | "Pool", name)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(old: list[Obj], kind: str, ok: bool, reason: str, message: str) -> Obj:
    """A condition; its lastTransitionTime moves only when its status does."""
    status = "True" if ok else "False"
    prev = next((c for c in old if isinstance(c, Mapping) and c.get("type") == kind), None)
    since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else _now()
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message[:1024],
        "lastTransitionTime": since,
    }


def _created(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("name") or ""))


class DefinitionsController:
    def __init__(
        self, cache: ClusterCache, store: Store, gate: Gate, client: Any, *, on_lost: Callable[[], None]
    ) -> None:
        self.cache = cache
        self.store = store
        self.gate = gate
        self.client = client
        self.on_lost = on_lost
        self.queue: WorkQueue[Key] = WorkQueue("definitions", base_delay=0.1, max_delay=30.0)
        for kind in ("Subnet", "Pool"):
            cache.informers[kind].add_handler(self._enqueue(kind))
        self._warned: set[tuple[str, str]] = set()

    def _enqueue(self, kind: str) -> Callable[[str, Obj, Obj | None], None]:
        def handler(_event: str, obj: Obj, _old: Obj | None) -> None:
            self.queue.add((kind, str((obj.get("metadata") or {}).get("name"))))

        return handler

    def refresh(self) -> None:
        for kind in ("Subnet", "Pool"):
            for obj in self.cache.informers[kind].items():
                self.queue.add((kind, str((obj.get("metadata") or {}).get("name"))))

    def run(self, stop: threading.Event, refresh_period: float = 5.0) -> None:
        next_refresh = time.monotonic() + refresh_period
        while not stop.is_set():
            if time.monotonic() >= next_refresh:
                self.refresh()
                next_refresh = time.monotonic() + refresh_period
            work_once(
                self.queue,
                self.gate,
                self.reconcile,
                self.on_lost,
                where="definitions",
                describe=lambda key: f"{key[0]} {key[1]}",
            )

    def reconcile(self, key: Key) -> None:
        if key[0] == "Subnet":
            self.reconcile_subnet(key[1])
        else:
            self.reconcile_pool(key[1])

    # -- subnets ------------------------------------------------------------------------------

    def valid_subnets(self) -> dict[str, tuple[Subnet, Obj]]:
        """Every Subnet resource that parses, by name."""
        out = {}
        for obj in self.cache.informers["Subnet"].items():
            try:
                sub = parse_subnet(obj)
            except InvalidInput:
                continue
            out[sub.name] = (sub, obj)
        return out

    def _overlap(self, sub: Subnet, obj: Obj, stored: set[str]) -> str:
        """The name of a subnet `sub` may not overlap ("" if none): one already in the store, or
        (neither stored) one created earlier."""
        for name, (other, other_obj) in self.valid_subnets().items():
            if (
                name == sub.name
                or other.cidr.version != sub.cidr.version
                or not other.cidr.overlaps(sub.cidr)
            ):
                continue
            if other_obj.get("metadata", {}).get("deletionTimestamp"):
                continue
            if name in stored and sub.name not in stored:
                return name
            if (name in stored) == (sub.name in stored) and _created(other_obj) < _created(obj):
                return name
        return ""

    def reconcile_subnet(self, name: str) -> None:
        obj = self.cache.informers["Subnet"].get(name)
        stored = {s.name for s in self.store.subnets()}
        if obj is None:  # gone without our finalizer (we were not running): keep IPs if held
            if name in stored:
                try:
                    self.store.delete_subnet(name)
                    log.info("subnet %s: resource gone; removed from the store", name)
                except SubnetInUse as err:
                    log.error(
                        "subnet %s: resource deleted while it holds IPs; kept in the store: %s", name, err
                    )
            return
        meta = obj.get("metadata") or {}
        conds = list((obj.get("status") or {}).get("conditions") or [])
        if meta.get("deletionTimestamp"):
            self._delete_subnet(name, obj, stored, conds)
            return
        if FINALIZER not in (meta.get("finalizers") or []):
            patch = {"metadata": {"finalizers": [*(meta.get("finalizers") or []), FINALIZER],
                                  "resourceVersion": meta.get("resourceVersion")}}  # fmt: skip
            self.client.patch(SUBNETS, name, patch)
        ready = self._sync_subnet(name, obj, stored)
        self._status(SUBNETS, obj, self._counts(name), [ready])

    def _sync_subnet(self, name: str, obj: Obj, stored: set[str]) -> Obj:
        conds = list((obj.get("status") or {}).get("conditions") or [])
        try:
            sub = parse_subnet(obj)
        except InvalidInput as err:
            return self._refuse(obj, conds, "Invalid", str(err))
        other = self._overlap(sub, obj, stored)
        if other:
            return self._refuse(obj, conds, "Overlaps", f"CIDR {sub.cidr} overlaps Subnet {other}; not used")
        try:
            self.store.put_subnet(sub)
        except SubnetInUse as err:
            return self._refuse(obj, conds, "InUse", str(err))
        self._warned.discard(("Subnet", name))
        return condition(conds, "Ready", True, "Synced", "the definition is in the store")

    def _refuse(self, obj: Obj, conds: list[Obj], reason: str, message: str) -> Obj:
        kind, name = str(obj.get("kind") or "Subnet"), str((obj.get("metadata") or {}).get("name"))
        if (kind, name + reason + message) not in self._warned:
            self._warned.add((kind, name + reason + message))
            log.warning("%s %s: %s: %s", kind, name, reason, message)
            self._event(obj, reason, message)
        return condition(conds, "Ready", False, reason, message)

    def _delete_subnet(self, name: str, obj: Obj, stored: set[str], conds: list[Obj]) -> None:
        if name in stored:
            try:
                self.store.delete_subnet(name)
            except SubnetInUse as err:
                msg = f"deletion refused: {err}"
                blocked = condition(conds, "DeletionBlocked", True, "InUse", msg)
                ready = next((c for c in conds if c.get("type") == "Ready"), None) or condition(
                    conds, "Ready", True, "Synced", "the definition is in the store"
                )
                if not any(c.get("type") == "DeletionBlocked" and c.get("status") == "True" for c in conds):
                    log.warning("subnet %s: %s", name, msg)
                    self._event(obj, "DeletionBlocked", msg)
                self._status(SUBNETS, obj, self._counts(name), [ready, blocked])
                return
            log.info("subnet %s: deleted from the store", name)
        finalizers = [f for f in (obj.get("metadata") or {}).get("finalizers") or [] if f != FINALIZER]
        with contextlib.suppress(NotFound):
            self.client.patch(SUBNETS, name, {"metadata": {"finalizers": finalizers or None}})

    def _counts(self, name: str) -> Obj:
        try:
            return dict(subnet_status(self.store.usage(name)))
        except StoreError:
            return {}

    # -- pools --------------------------------------------------------------------------------

    def reconcile_pool(self, name: str) -> None:
        obj = self.cache.informers["Pool"].get(name)
        stored = {p.name: p for p in self.store.pools()}
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            if name in stored:
                self.store.delete_pool(name)
                log.info("pool %s: resource gone; removed from the store (no new IPs from it)", name)
            return
        conds = list((obj.get("status") or {}).get("conditions") or [])
        try:
            pool = parse_pool(obj)
            check_pool(pool, {s.name: s for s in self.store.subnets()})
        except InvalidInput as err:
            ready = self._refuse(obj, conds, "Invalid", str(err))
            self._status(POOLS, obj, {}, [ready])
            return
        try:
            self.store.put_pool(pool)
        except StoreError as err:
            ready = self._refuse(obj, conds, "Refused", str(err))
            self._status(POOLS, obj, {}, [ready])
            return
        ready = condition(conds, "Ready", True, "Synced", "the definition is in the store")
        self._status(POOLS, obj, self._pool_counts(pool), [ready])

    def _pool_counts(self, pool: Pool) -> Obj:
        recs = [r for r in self.store.by_subnet(pool.subnet) if r.pool == pool.name]
        reserved = sum(1 for r in recs if r.state is IPState.RESERVED)
        allocated = len(recs) - reserved
        return {
            "allocated": allocated,
            "reserved": reserved,
            "free": max(0, pool.size - allocated - reserved),
        }

    # -- writing back -------------------------------------------------------------------------

    def _status(self, res: Any, obj: Obj, counts: Obj, conds: list[Obj]) -> None:
        old = obj.get("status") or {}
        others = [c for c in old.get("conditions") or [] if c.get("type") not in {x["type"] for x in conds}]
        if not any(c["type"] == "DeletionBlocked" for c in conds):
            others = [c for c in others if c.get("type") != "DeletionBlocked"]
        status = {**counts, "conditions": sorted(others + conds, key=lambda c: str(c.get("type")))}
        if {k: old.get(k) for k in status} == status and set(old) <= set(status):
            return
        name = str((obj.get("metadata") or {}).get("name"))
        with contextlib.suppress(NotFound):
            self.client.patch(res, name, {"status": status}, sub="status")

    def _event(self, obj: Obj, reason: str, message: str) -> None:
        try:
            self.client.create_event(obj, reason, message, type="Warning", component="fip-controllers")
        except KubeError as err:
            log.info("event on %s not written: %s", (obj.get("metadata") or {}).get("name"), err)

    # -- for the rebuild ------------------------------------------------------------------------

    def sync_all(self) -> None:
        """Put every valid, non-overlapping Subnet and then every Pool into the store (rebuild)."""
        stored = {s.name for s in self.store.subnets()}
        for name in sorted(self.valid_subnets()):
            obj = self.cache.informers["Subnet"].get(name)
            if obj is not None and not (obj.get("metadata") or {}).get("deletionTimestamp"):
                self._sync_subnet(name, obj, stored)
        subnets = {s.name: s for s in self.store.subnets()}
        for obj in self.cache.informers["Pool"].items():
            try:
                pool = parse_pool(obj)
                check_pool(pool, subnets)
            except InvalidInput:
                continue
            self.store.put_pool(pool)
