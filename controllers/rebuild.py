"""Rebuild the store from Kubernetes after Redis lost (or may have lost) its state.

Triggers (`needed`): the store reports lost state (marker gone, a shard restarted empty, a
rebuild left unfinished by a replica that died), or the server identity differs from the one
recorded when the state was last known complete (a restart or a failover that may have dropped
the last acknowledged writes; `Store.verified_identity`). A new leader checks the same, so an
event nobody watched is still caught.

The rebuild, with the controllers' other paths parked (`Gate.rebuilding`):
1. wait for synced caches; put every valid Subnet and Pool resource back into the store;
2. `begin_rebuild`: the store refuses every allocation from now on (the extender answers
   "retry"; pods stay Pending rather than get a duplicate);
3. record every live pod's IP from its `fip.io/allocation` annotation (Kubernetes is the truth
   for what is bound). An IP the store gives to someone else is taken back when that holder is
   not a live pod; when two live pods claim it, it is a conflict, logged and left;
4. restore the reservations of absent instances from their owners' `fip.io/reserved-ips`
   annotations, where the owner still exists and still wants the instance, and nobody holds
   the IP;
5. `finish_rebuild`: a fresh marker and identity, allocation resumes.
No IP is handed out during 2-5, and every IP a pod carries is in the store before 5.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controllers.cache import WORKLOADS, ClusterCache
from controllers.definitions import DefinitionsController
from controllers.gate import Gate
from controllers.metrics import CONFLICTS, REBUILD_SECONDS, REBUILDS, RECORDED
from controllers.reconcile import record_of
from fip.core import reservations
from fip.core.errors import InvalidInput
from fip.core.kubeview import workload_key
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.core.releaseplan import wanted
from fip.store.errors import IPTaken, NotAllocatable, StaleOperation, StateLost, StoreError, UnknownSubnet
from fip.store.protocol import Store

log = logging.getLogger("fip.controllers.rebuild")


@dataclass
class RebuildResult:
    trigger: str = ""
    bound: int = 0
    reserved: int = 0
    conflicts: int = 0
    skipped: int = 0
    seconds: float = 0.0


def needed(store: Store) -> str:
    """Why a rebuild is needed now ("" when it is not)."""
    seen, verified = store.server_identity(), store.verified_identity()
    if verified and seen != verified:  # named as such, though check_intact says ServerChanged too
        return f"server identity changed ({verified} -> {seen})"
    try:
        store.check_intact()  # also catches one subnet's shard moved or failed over (ServerChanged)
    except StateLost as err:
        return f"state lost ({err})"
    if seen != verified:
        return f"server identity changed (none recorded -> {seen})"
    return ""


class Rebuilder:
    def __init__(
        self,
        cache: ClusterCache,
        store: Store,
        gate: Gate,
        definitions: DefinitionsController,
        *,
        clock: Callable[[], float] = time.time,
        sync_timeout: float = 60.0,
    ) -> None:
        self.cache = cache
        self.store = store
        self.gate = gate
        self.definitions = definitions
        self.clock = clock
        self.sync_timeout = sync_timeout
        self.last: RebuildResult | None = None
        self.count = 0

    def run(self, trigger: str) -> RebuildResult:
        """Rebuild now (the caller leads); the gate is held closed throughout."""
        result = RebuildResult(trigger=trigger)
        started = time.monotonic()
        log.warning("rebuilding the store from Kubernetes: %s", trigger)
        REBUILDS.labels(trigger=trigger.split(" ", 1)[0]).inc()
        self.gate.set_rebuilding(True)
        try:
            if not self.cache.wait_synced(self.sync_timeout):
                raise StoreError("rebuild: the caches did not sync; will try again")
            self.definitions.sync_all()
            self.store.begin_rebuild()
            now = self.clock()
            live = self.cache.live()
            seen = [(rec, pod) for pod in self.cache.pods() if (rec := record_of(pod, now)) is not None]
            written = self.store.record_many([rec for rec, _ in seen])  # one pipelined pass
            for (rec, pod), got in zip(seen, written, strict=True):
                if isinstance(got, AllocationRecord):
                    result.bound += 1
                else:  # refused: the slow path frees stale holders or reports the conflict
                    self._record(rec, live, result, f"pod {pod.namespace}/{pod.name}")
            RECORDED.labels(why="rebuild").inc(result.bound)
            self._restore_reservations(now, result)
            if not self.gate.leading:
                raise StoreError("rebuild: lost the lease; the next leader rebuilds")
            self.store.finish_rebuild()
        finally:
            self.gate.set_rebuilding(False)
        result.seconds = time.monotonic() - started
        REBUILD_SECONDS.observe(result.seconds)
        self.last = result
        self.count += 1
        log.warning(
            "rebuild done in %.2f s: %d bound, %d reserved restored, %d conflicts, %d skipped",
            result.seconds, result.bound, result.reserved, result.conflicts, result.skipped,
        )  # fmt: skip
        return result

    def _record(self, rec: AllocationRecord, live: Any, result: RebuildResult, what: str) -> bool:
        try:
            self._write(rec, live, what)
        except _Skip as why:
            if why.conflict:
                result.conflicts += 1
                CONFLICTS.labels(where="rebuild").inc()
            else:
                result.skipped += 1
            return False
        if rec.state is IPState.RESERVED:
            result.reserved += 1
        else:
            result.bound += 1
        RECORDED.labels(why="rebuild").inc()
        return True

    def _write(self, rec: AllocationRecord, live: Any, what: str) -> None:
        """Record `rec`; a stale holder (no live pod) of the IP, or a stale record of the pod's
        UID elsewhere, is freed first. Raises _Skip when the record cannot or must not go in."""
        try:
            self.store.record(rec)
            return
        except (UnknownSubnet, NotAllocatable) as err:
            log.error("rebuild: %s: %s not recorded: %s", what, rec.ip, err)
            raise _Skip(conflict=False) from err
        except (IPTaken, StaleOperation):
            pass
        holder = self.store.get(rec.subnet, rec.ip)
        pod = live.get(holder.pod_uid) if holder is not None and holder.pod_uid else None
        if holder is not None and pod is not None and not pod.finished:
            if rec.state is IPState.RESERVED:  # a live pod has that IP: the reservation is moot
                raise _Skip(conflict=False)
            log.error("rebuild: %s carries %s, which live pod %s (uid %s) also holds; left as is",
                      what, rec.ip, pod.name, pod.uid)  # fmt: skip
            raise _Skip(conflict=True)
        if holder is not None:
            self.store.force_release(rec.subnet, rec.ip)
        elsewhere = self.store.by_pod(rec.subnet, rec.pod_uid) if rec.pod_uid else None
        if elsewhere is not None and elsewhere.ip != rec.ip:
            self.store.force_release(elsewhere.subnet, elsewhere.ip)
        self.store.record(rec)

    def _restore_reservations(self, now: float, result: RebuildResult) -> None:
        for kind in WORKLOADS:
            for obj in self.cache.informers[kind].items():
                text = ((obj.get("metadata") or {}).get("annotations") or {}).get(reservations.KEY)
                key = workload_key(kind, obj)
                if text is None or key is None:
                    continue
                try:
                    items = reservations.parse(text)
                except InvalidInput as err:
                    log.error("rebuild: %s %s/%s: %s", kind, key.namespace, key.name, err)
                    continue
                state, _ = self.cache.owner_state(key)
                for item in items:
                    inst = item.instance or None
                    if not state.exists or not wanted(state, inst) or self.store.get(item.subnet, item.ip):
                        continue
                    try:
                        owner = OwnerKey.of(key.namespace, key.kind, key.name, inst)
                    except InvalidInput:
                        continue
                    rec = AllocationRecord(
                        ip=item.ip,
                        subnet=item.subnet,
                        owner=owner,
                        state=IPState.RESERVED,
                        policy=state.policy or ReleasePolicy.IMMUTABLE,
                        created_at=now,
                        updated_at=now,
                    )
                    self._record(rec, self.cache.live(), result, f"{kind} {key.namespace}/{key.name}")


class _Skip(Exception):
    def __init__(self, *, conflict: bool) -> None:
        super().__init__()
        self.conflict = conflict
