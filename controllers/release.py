"""Release: owner key -> the owner's records and current state -> pure plan -> store.

Level-based: a work item is an owner workload key; whatever happened (scale-down, deletion, a pod
finishing, a missed event replayed by a re-list) the worker reads the owner's records from the
store and the owner's state from the cache, asks `fip.core.releaseplan.plan` and applies the
reserve / release steps, each naming the pod UID it expects. There is no "on delete" logic.

This path acts only on positive evidence (a pod seen deleted or finished, an owner absent from
the synced cache, a replica count): pods whose UID is merely unseen wait for the periodic
reconcile, which needs two confirmations past the grace period (`controllers.reconcile`).
"Seen deleted" is a DELETED event's tombstone, or, for a deletion that happened while this
process was not running (no event ever came), the pod list: a record written `CLOCK_SKEW`
seconds before the pod informer's last list names a pod that existed then, so a synced cache
without it proves it deleted (`ClusterCache.listed_gone`). Without that, a restarted
controller left every IP of pods deleted while it was down to the periodic path (grace plus
two passes, ~130 s with the defaults). The periodic pass also hands every owner it has doubts
about to this queue, so a record written after its pod's DELETED event was handled is freed
on the tombstone within one period.

After a change the owner's reserved IPs are written to its `fip.io/reserved-ips` annotation, so
a rebuild after Redis lost its state can restore them (`controllers.rebuild`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from controllers.cache import WORKLOADS, ClusterCache
from controllers.gate import Gate
from controllers.metrics import STEPS
from controllers.worker import work_once
from fip.core import reservations
from fip.core.owner import OwnerKey, OwnerKind
from fip.core.record import AllocationRecord, IPState
from fip.core.releaseplan import Action, ReleasePlan, Step, plan
from fip.kube.errors import NotFound
from fip.kube.workqueue import WorkQueue
from fip.store.errors import StaleOperation, StateLost
from fip.store.protocol import Store

log = logging.getLogger("fip.controllers.release")
CLOCK_SKEW = 5.0  # seconds: how far a store writer's clock (extender, fipd) may lag ours


def apply_step(store: Store, step: Step, now: float) -> bool:
    """Apply one reserve / release step; False when the store refused it as stale (the record
    changed hands after it was read: nothing to do, the next reconcile sees the new state)."""
    r = step.record
    try:
        if step.action is Action.RELEASE:
            store.release(r.subnet, r.ip, r.owner, step.expected_uid, now)
        elif step.action is Action.RESERVE:
            store.reserve(r.subnet, r.ip, r.owner, step.expected_uid, now)
        else:
            return False
    except StaleOperation as err:
        log.info("%s %s skipped: %s", step.action.value, r.ip, err)
        return False
    STEPS.labels(action=step.action.value).inc()
    log.info("%s %s (%s) of %s: %s", step.action.value, r.ip, r.subnet, r.owner, step.reason)
    return True


def reserved_after(p: ReleasePlan) -> list[AllocationRecord]:
    """The owner's reserved records once the plan is applied."""
    out = []
    for s in p.steps:
        if s.action is Action.RESERVE or (s.action is Action.KEEP and s.record.state is IPState.RESERVED):
            out.append(s.record)
    return out


class ReleaseController:
    def __init__(
        self,
        cache: ClusterCache,
        store: Store,
        gate: Gate,
        client: Any,
        *,
        on_lost: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = cache
        self.store = store
        self.gate = gate
        self.client = client
        self.on_lost = on_lost
        self.clock = clock
        self.queue: WorkQueue[OwnerKey] = WorkQueue("release", base_delay=0.05, max_delay=30.0)
        cache.listeners.append(self.queue.add)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            # keys wait in the queue until we lead with synced caches
            work_once(
                self.queue,
                self.gate,
                self.reconcile,
                self.on_lost,
                where="release",
                describe=lambda key: f"release {key}",
            )

    def reconcile(self, key: OwnerKey) -> ReleasePlan:
        records = self.store.by_owner(key)
        state, problems = self.cache.owner_state(key)
        for msg in problems:
            log.warning("%s: %s", key, msg)
        gone = self.cache.gone() | self.cache.listed_gone(records, CLOCK_SKEW)
        p = plan(state, records, self.cache.live(), self.clock(), gone=gone, grace=math.inf)
        changed = False
        for step in p.changes:
            if not self.gate.acting():  # lost the lease or a rebuild started mid-way: stop
                return p
            changed |= apply_step(self.store, step, self.clock())
        if state.exists and key.kind is not OwnerKind.POD:
            self._annotate(key, reserved_after(p))
        if changed:
            log.debug("release %s: %d step(s)", key, len(p.changes))
        return p

    def _annotate(self, key: OwnerKey, reserved: list[AllocationRecord]) -> None:
        """Keep the owner's `fip.io/reserved-ips` equal to its reserved records."""
        obj = self.cache.workload(key)
        if obj is None:
            return
        items = [reservations.Reservation(r.owner.instance or "", r.subnet, r.ip) for r in reserved]
        want = reservations.encode(items) if items else None
        have = ((obj.get("metadata") or {}).get("annotations") or {}).get(reservations.KEY)
        if have == want:
            return
        # The annotation is what a rebuild restores from: never rewrite it from a store that
        # lost its state, was never initialised, or is a server not yet re-verified (a restart
        # or failover may have dropped the last writes) before the watchdog noticed. StateLost
        # wakes the watchdog and sends the key back to wait for the rebuild.
        # (controllers.rebuild.needed's test; importing it here would be circular)
        self.store.check_intact()
        if self.store.server_identity() != self.store.verified_identity():
            raise StateLost(f"{reservations.KEY} of {key} left as is: the server is not re-verified yet")
        res = WORKLOADS[key.kind.value]
        patch = {"metadata": {"annotations": {reservations.KEY: want}}}
        try:
            self.client.patch(res, key.name, patch, key.namespace)
        except NotFound:
            return
