"""Leader election on a coordination.k8s.io/v1 Lease (the pinned client ships only a ConfigMap lock).

`LeaseLock` reads and writes one Lease with optimistic concurrency (its resourceVersion): two
candidates that both see an expired lease both try to update it, and the API server lets exactly
one through (the other gets 409 Conflict). `LeaderElector` is client-go's algorithm:
- a candidate takes the lease when nobody holds it, or when the holder has not renewed it for
  `lease_duration` seconds *as observed locally* (the time we last saw the record change, not
  the holder's renewTime: clocks of different machines are never compared);
- the leader renews every `retry_period` seconds; if it cannot renew within `renew_deadline`
  it stops leading (`on_stopped`) before anyone else may take over (renew_deadline <
  lease_duration), so two replicas never both act;
- on a clean stop the leader releases the lease (holder cleared), so a successor takes over
  at once instead of after `lease_duration`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fip.kube.client import KubeClient
from fip.kube.errors import Conflict, KubeError, NotFound
from fip.kube.resources import LEASES

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def _now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseLock:
    def __init__(self, client: KubeClient, namespace: str, name: str, identity: str) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity

    def __str__(self) -> str:
        return f"lease {self.namespace}/{self.name}"

    def get(self) -> Obj | None:
        try:
            return self.client.get(LEASES, self.name, self.namespace)
        except NotFound:
            return None

    def create(self, spec: Obj) -> Obj:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec,
        }
        return self.client.create(LEASES, body, self.namespace)

    def update(self, lease: Obj, spec: Obj) -> Obj:
        """PUT with the read resourceVersion: Conflict if someone wrote in between."""
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": (lease.get("metadata") or {}).get("resourceVersion"),
            },
            "spec": spec,
        }
        return self.client.update(LEASES, body)


class LeaderElector:
    def __init__(
        self,
        lock: LeaseLock,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_started: Callable[[], None] = lambda: None,
        on_stopped: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("leader election needs retry_period < renew_deadline < lease_duration")
        self.lock = lock
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started = on_started
        self.on_stopped = on_stopped
        self._clock = clock
        self._leader = threading.Event()
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0
        self.transitions = 0

    @property
    def is_leader(self) -> bool:
        return self._leader.is_set()

    def wait_leader(self, timeout: float | None = None) -> bool:
        return self._leader.wait(timeout)

    def run(self, stop: threading.Event) -> None:
        """Campaign until `stop`; lead while holding the lease. Returns after `stop` (releasing
        the lease if held)."""
        try:
            while not stop.is_set():
                if self._try_acquire_or_renew():
                    self._lead(stop)
                else:
                    stop.wait(self.retry_period)
        finally:
            if self.is_leader:
                self._stop_leading()
                self._release()

    def _lead(self, stop: threading.Event) -> None:
        log.info("%s: %s is the leader", self.lock, self.lock.identity)
        self._leader.set()
        try:
            self.on_started()
        except Exception:
            log.exception("%s: on_started failed", self.lock)
        last_renew = self._clock()
        while not stop.wait(self.retry_period):
            if self._try_acquire_or_renew():
                last_renew = self._clock()
            elif self._clock() - last_renew >= self.renew_deadline or not self._still_ours():
                deadline = self.renew_deadline
                log.warning("%s: could not renew within %.0f s; stepping down", self.lock, deadline)
                self._stop_leading()
                return

    def _still_ours(self) -> bool:
        return self._observed is not None and self._observed[0] == self.lock.identity

    def _stop_leading(self) -> None:
        if not self._leader.is_set():
            return
        self._leader.clear()
        try:
            self.on_stopped()
        except Exception:
            log.exception("%s: on_stopped failed", self.lock)

    def _try_acquire_or_renew(self) -> bool:
        now_text = _now_micro()
        me = self.lock.identity
        try:
            lease = self.lock.get()
            if lease is None:
                self.lock.create(self._spec(me, now_text, now_text, 0))
                self._observe(me, now_text)
                return True
            spec = lease.get("spec") or {}
            holder = str(spec.get("holderIdentity") or "")
            renewed = str(spec.get("renewTime") or "")
            self._observe(holder, renewed)
            duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
            expired = self._clock() - self._observed_at >= duration
            if holder and holder != me and not expired:
                return False
            transitions = int(spec.get("leaseTransitions") or 0)
            if holder == me:
                acquired = str(spec.get("acquireTime") or now_text)
            else:
                acquired, transitions = now_text, transitions + 1
            self.lock.update(lease, self._spec(me, acquired, now_text, transitions))
            self._observe(me, now_text)
            self.transitions = transitions
            return True
        except Conflict:
            return False  # someone else wrote first; look again next round
        except KubeError as err:
            log.warning("%s: %s", self.lock, err)
            return False

    def _observe(self, holder: str, renewed: str) -> None:
        if self._observed != (holder, renewed):
            self._observed = (holder, renewed)
            self._observed_at = self._clock()

    def _spec(self, holder: str, acquired: str, renewed: str, transitions: int) -> Obj:
        return {
            "holderIdentity": holder,
            "leaseDurationSeconds": max(1, round(self.lease_duration)),
            "acquireTime": acquired,
            "renewTime": renewed,
            "leaseTransitions": transitions,
        }

    def _release(self) -> None:
        try:
            lease = self.lock.get()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.lock.identity:
                return
            spec = dict(lease.get("spec") or {})
            spec.update({"holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": _now_micro()})
            self.lock.update(lease, spec)
            log.info("%s: released by %s", self.lock, self.lock.identity)
        except KubeError as err:
            log.warning("%s: could not release: %s", self.lock, err)
