"""The periodic reconcile: Redis against live pods, the safety net for everything events missed.

One pass (every `period` seconds, and soon after a leadership change or rebuild):
1. read every record from the store FIRST, then take the pods from the cache: a pod created in
   between has a record read too late at worst (it is re-read next pass), while the other order
   could see a fresh allocation without its pod and free it (whereabouts #207);
2. per owner, plan with the grace period (`fip.core.releaseplan`), and hand the owner to
   `doubt` (the release queue) when a record waits or would change: that path acts at once on
   a tombstone or the pod list's evidence (`controllers.release`). Here, a record whose pod UID is
   unseen is only a candidate once it is `grace` seconds old; a change is applied only when two
   consecutive passes planned the very same step (same IP, same UID, same action), so a cache
   lag or a half-finished event cannot free a live pod's IP (Calico #5044, Cilium 91071da);
   every step still names the UID the store must see;
3. re-record live pods whose annotated IP is missing from the store (lost writes), or held in
   the store for the same owner under an UID no live pod has; an IP another live pod holds is
   a conflict: logged and counted, never "fixed" by guessing.
Nothing is done unless this replica leads with synced caches (`Gate.acting`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from controllers.cache import ClusterCache
from controllers.gate import Gate
from controllers.metrics import CONFLICTS, RECONCILE_SECONDS, RECORDED
from controllers.release import apply_step
from fip.core.kubeview import PodView
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.core.releaseplan import DEFAULT_GRACE, Action, plan
from fip.core.subnet import IPAddress
from fip.store.errors import IPTaken, StaleOperation, StoreError
from fip.store.protocol import Store

log = logging.getLogger("fip.controllers.reconcile")
StepKey = tuple[str, IPAddress, str, Action]


@dataclass
class PassResult:
    records: int = 0
    pods: int = 0
    candidates: int = 0
    applied: int = 0
    recorded: int = 0
    conflicts: int = 0
    seconds: float = 0.0
    skipped: str = ""  # why nothing was done (not leading, caches not synced, ...)
    steps: list[str] = field(default_factory=list)


def record_of(pod: PodView, now: float) -> AllocationRecord | None:
    """The record a live pod's annotation implies (None without a valid annotation)."""
    a = pod.allocation
    if a is None or pod.finished:
        return None
    running = pod.phase == "Running" and bool(pod.node)
    return AllocationRecord(
        ip=a.ip,
        subnet=a.subnet,
        owner=a.owner,
        state=IPState.BOUND if running else IPState.ALLOCATED,
        policy=pod.policy or ReleasePolicy.POD,
        pod_name=pod.name,
        pod_uid=pod.uid,
        node=pod.node,
        pool=pod.pool,
        created_at=now,
        updated_at=now,
    )


class Reconciler:
    def __init__(
        self,
        cache: ClusterCache,
        store: Store,
        gate: Gate,
        *,
        grace: float = DEFAULT_GRACE,
        confirmations: int = 2,
        clock: Callable[[], float] = time.time,
        doubt: Callable[[OwnerKey], None] | None = None,
    ) -> None:
        self.cache = cache
        self.doubt = doubt  # owners with a record waiting or to change: the release queue
        self.store = store
        self.gate = gate
        self.grace = grace
        self.confirmations = confirmations
        self.clock = clock
        self._seen: dict[StepKey, int] = {}
        self._epoch = -1
        self.last: PassResult | None = None
        self.passes = 0

    def run(self, stop: threading.Event, period: float) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except StoreError as err:
                log.warning("reconcile: %s; next pass in %.0f s", err, period)
            except Exception:
                log.exception("reconcile pass failed")
            stop.wait(period)

    def run_once(self) -> PassResult:
        result = PassResult()
        if not self.gate.acting():
            result.skipped = "not acting (not leading, rebuilding, or caches not synced)"
            self.last = result
            return result
        if self._epoch != self.gate.epoch:  # confirmations do not carry across terms
            self._seen.clear()
            self._epoch = self.gate.epoch
        started = time.monotonic()
        subnets = self.store.subnets()
        stored = {s.name: self.store.by_subnet(s.name) for s in subnets}  # the store first ...
        pods = self.cache.pods()  # ... then the pods
        live, gone = self.cache.live(), self.cache.gone()
        result.records = sum(len(v) for v in stored.values())
        result.pods = len(pods)
        now = self.clock()
        groups: dict[OwnerKey, list[AllocationRecord]] = {}
        for recs in stored.values():
            for r in recs:
                groups.setdefault(r.owner.workload(), []).append(r)
        seen: dict[StepKey, int] = {}
        for key, recs in groups.items():
            state, _ = self.cache.owner_state(key)
            p = plan(state, recs, live, now, gone=gone, grace=self.grace)
            if self.doubt is not None and (p.changes or p.of(Action.WAIT)):
                self.doubt(key)  # the release path may have the evidence to act at once
            for step in p.changes:
                r = step.record
                if now - max(r.updated_at, r.created_at) < self.grace:
                    continue
                sk = (r.subnet, r.ip, r.pod_uid, step.action)
                seen[sk] = self._seen.get(sk, 0) + 1
                result.candidates += 1
                if seen[sk] >= self.confirmations and self.gate.acting():
                    if apply_step(self.store, step, self.clock()):
                        result.applied += 1
                        result.steps.append(f"{step.action.value} {r.ip}: {step.reason}")
                    del seen[sk]
        self._seen = seen
        self._rerecord(stored, pods, result)
        result.seconds = time.monotonic() - started
        RECONCILE_SECONDS.observe(result.seconds)
        self.last = result
        self.passes += 1
        return result

    def _rerecord(
        self, stored: dict[str, list[AllocationRecord]], pods: list[PodView], result: PassResult
    ) -> None:
        index = {(r.subnet, int(r.ip)): r for recs in stored.values() for r in recs}
        live = self.cache.live()
        now = self.clock()
        for pod in pods:
            a = pod.allocation
            if a is None or pod.finished or a.subnet not in stored:
                continue
            have = index.get((a.subnet, int(a.ip)))
            if have is not None and have.pod_uid == pod.uid:
                continue  # the common case: nothing to build
            want = record_of(pod, now)
            if want is None:
                continue
            if have is not None:
                holder = live.get(have.pod_uid) if have.pod_uid else None
                if have.owner != want.owner or (holder is not None and not holder.finished):
                    result.conflicts += 1
                    CONFLICTS.labels(where="reconcile").inc()
                    log.error(
                        "pod %s/%s (uid %s) carries %s, which the store gives to %s (uid %s); not changed",
                        pod.namespace, pod.name, pod.uid, want.ip, have.owner, have.pod_uid or "-",
                    )  # fmt: skip
                    continue
            if not self.gate.acting():
                return
            try:
                if have is not None:  # same owner, an UID no live pod has: hand the record over
                    self.store.release(have.subnet, have.ip, have.owner, have.pod_uid, now)
                self.store.record(want)
            except (IPTaken, StaleOperation) as err:
                log.info("re-recording %s for %s/%s skipped: %s", want.ip, pod.namespace, pod.name, err)
                continue
            RECORDED.labels(why="reconcile").inc()
            result.recorded += 1
            log.warning("re-recorded %s (%s) for live pod %s/%s: it was missing from the store",
                        want.ip, want.subnet, pod.namespace, pod.name)  # fmt: skip
