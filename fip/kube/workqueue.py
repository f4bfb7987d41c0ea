"""The one work queue: keyed, de-duplicating, with per-key retry back-off (client-go's shape).

Level-based reconcilers put *keys* here (an owner key, a subnet name), never events: ten
changes to one owner while a worker is busy become one more pass over its current state.
Guarantees a worker may rely on:
- a key is handed to at most one worker at a time; a key added while it is being processed is
  handed out again after `done(key)` (the change is not lost, and not processed concurrently);
- `retry(key)` re-adds it after base_delay * 2**n (capped at max_delay), n counting the key's
  consecutive retries; `forget(key)` resets n (call it after a success);
- `add_after(key, delay)` is how periodic resyncs and grace periods are scheduled;
- `get()` returns None after `shutdown()` (workers end their loops) or on timeout.
Pure threading: no Kubernetes here, so the controllers' tests drive it directly.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from prometheus_client import Counter, Gauge

K = TypeVar("K", bound=Hashable)

DEPTH = Gauge("fip_workqueue_depth", "Keys waiting in a work queue", ["queue"])
ADDS = Counter("fip_workqueue_adds_total", "Keys added to a work queue (after de-duplication)", ["queue"])
RETRIES = Counter("fip_workqueue_retries_total", "Keys re-queued with back-off after a failure", ["queue"])


class WorkQueue(Generic[K]):
    def __init__(
        self,
        name: str,
        *,
        base_delay: float = 0.05,
        max_delay: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: list[K] = []  # FIFO of ready keys
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()  # added while processing
        self._delayed: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._failures: dict[K, int] = {}
        self._shutdown = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def add(self, key: K) -> None:
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: K) -> None:
        if self._shutdown:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.append(key)
        ADDS.labels(queue=self.name).inc()
        DEPTH.labels(queue=self.name).set(len(self._queue))
        self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown:
                return
            heapq.heappush(self._delayed, (self._clock() + delay, next(self._seq), key))
            self._cond.notify()

    def retry(self, key: K) -> float:
        """Re-add `key` after its back-off; returns the delay chosen."""
        with self._cond:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        RETRIES.labels(queue=self.name).inc()
        delay = float(min(self.base_delay * (2**n), self.max_delay))
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def retries(self, key: K) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    def get(self, timeout: float | None = None) -> K | None:
        """The next ready key (now owned by the caller until `done`), or None."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                self._promote_locked()
                if self._shutdown:
                    return None
                if self._queue:
                    key = self._queue.pop(0)
                    self._queued.discard(key)
                    self._processing.add(key)
                    DEPTH.labels(queue=self.name).set(len(self._queue))
                    return key
                now = self._clock()
                waits = [d - now for d in ([deadline] if deadline is not None else [])]
                if self._delayed:
                    waits.append(self._delayed[0][0] - now)
                if deadline is not None and deadline <= now:
                    return None
                self._cond.wait(max(0.0, min(waits)) if waits else None)

    def done(self, key: K) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self._add_locked(key)

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    @property
    def shutting_down(self) -> bool:
        return self._shutdown

    def _promote_locked(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            self._add_locked(key)
