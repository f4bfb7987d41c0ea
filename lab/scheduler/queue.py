"""kube-scheduler's scheduling queue, reduced to what changes behaviour an extender can see.

Three places a pending pod can be (pkg/scheduler/backend/queue): *active* (FIFO, scheduled
next), *backoff* (waiting `initial x 2^(attempts-1)` seconds from the last attempt, capped at the
maximum) and *unschedulable* (waiting for a cluster event; flushed after
`unschedulable_timeout`, 5 min in kube-scheduler). A scheduler error (extender down, bind
failed) goes straight to backoff; an unschedulable pod goes to the unschedulable pool unless a
cluster event arrived while it was being scheduled. A cluster event moves every unschedulable
pod to backoff or active: the lab treats every event as relevant, which is what kube-scheduler
does for pods an extender rejected.

Pods are keyed `namespace/name`; the queue stores the latest pod object for each key.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

Pod = dict[str, Any]


class SchedulingQueue:
    def __init__(
        self,
        initial_backoff: float,
        max_backoff: float,
        unschedulable_timeout: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.unschedulable_timeout = unschedulable_timeout
        self._clock = clock
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._active: list[tuple[int, str]] = []
        self._active_keys: set[str] = set()
        self._backoff: dict[str, float] = {}  # key -> ready time
        self._unschedulable: dict[str, float] = {}  # key -> since
        self._pods: dict[str, Pod] = {}
        self._attempts: dict[str, int] = {}
        self._last_attempt: dict[str, float] = {}
        self._in_flight: set[str] = set()
        self.cycle = 0
        self._move_cycle = -1
        self._closed = False

    def _backoff_until(self, key: str) -> float:
        """Backoff counts from the last attempt (podInfo.Timestamp), not from the event."""
        return self._last_attempt.get(key, self._clock()) + self.backoff_for(key)

    def backoff_for(self, key: str) -> float:
        attempts = self._attempts.get(key, 0)
        if attempts <= 0:
            return 0.0
        return float(min(self.max_backoff, self.initial_backoff * 2 ** (attempts - 1)))

    def add(self, key: str, pod: Pod, relevant: bool = True) -> None:
        """A new or updated pending pod. New pods become active; an update that changed more
        than status (`relevant`) makes an unschedulable pod eligible again (after its backoff)."""
        with self._cond:
            known = key in self._pods
            self._pods[key] = pod
            if key in self._in_flight or key in self._active_keys or key in self._backoff:
                return
            if key in self._unschedulable:
                if not relevant:
                    return
                del self._unschedulable[key]
                ready = self._backoff_until(key)
                if ready > self._clock():
                    self._backoff[key] = ready
                    return
            elif known and not relevant:
                return
            self._push_active(key)

    def delete(self, key: str) -> None:
        with self._cond:
            self._pods.pop(key, None)
            self._attempts.pop(key, None)
            self._active_keys.discard(key)
            self._last_attempt.pop(key, None)
            self._backoff.pop(key, None)
            self._unschedulable.pop(key, None)

    def pop(self, timeout: float = 0.5) -> tuple[str, Pod, int] | None:
        """The next pod to schedule (key, pod, cycle), or None after `timeout` with nothing ready."""
        deadline = self._clock() + timeout
        with self._cond:
            while not self._closed:
                self._flush()
                while self._active:
                    _, key = heapq.heappop(self._active)
                    if key in self._active_keys and key in self._pods:
                        self._active_keys.discard(key)
                        self._in_flight.add(key)
                        self._attempts[key] = self._attempts.get(key, 0) + 1
                        self._last_attempt[key] = self._clock()
                        self.cycle += 1
                        return key, self._pods[key], self.cycle
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.05))
            return None

    def done(self, key: str) -> None:
        """The pod was scheduled (or vanished): forget it."""
        with self._cond:
            self._in_flight.discard(key)
            self._pods.pop(key, None)
            self._attempts.pop(key, None)
            self._last_attempt.pop(key, None)

    def requeue(self, key: str, cycle: int, unschedulable: bool) -> None:
        """After a failed attempt: unschedulable pool, or backoff (errors, or an event arrived)."""
        with self._cond:
            self._in_flight.discard(key)
            if key not in self._pods:
                return
            if unschedulable and self._move_cycle < cycle:
                self._unschedulable[key] = self._clock()
            else:
                self._backoff[key] = self._backoff_until(key)
            self._cond.notify_all()

    def move_all(self) -> None:
        """A cluster event: every unschedulable pod becomes eligible again (after its backoff)."""
        with self._cond:
            self._move_cycle = self.cycle
            for key in list(self._unschedulable):
                del self._unschedulable[key]
                self._backoff[key] = self._backoff_until(key)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def pending(self) -> dict[str, str]:
        """Where each queued pod is: active, backoff, unschedulable or in-flight (for tests)."""
        with self._cond:
            out = dict.fromkeys(self._active_keys, "active")
            out.update(dict.fromkeys(self._backoff, "backoff"))
            out.update(dict.fromkeys(self._unschedulable, "unschedulable"))
            out.update(dict.fromkeys(self._in_flight, "in-flight"))
            return out

    def _push_active(self, key: str) -> None:
        self._active_keys.add(key)
        heapq.heappush(self._active, (next(self._seq), key))
        self._cond.notify_all()

    def _flush(self) -> None:
        now = self._clock()
        for key, ready in list(self._backoff.items()):
            if ready <= now:
                del self._backoff[key]
                self._push_active(key)
        for key, since in list(self._unschedulable.items()):
            if now - since >= self.unschedulable_timeout:
                del self._unschedulable[key]
                self._push_active(key)
