"""The change log behind watches: one global resourceVersion counter and a bounded event list.

Every write gets the next resourceVersion and appends one `Change`. Watchers keep an absolute
cursor into the log and read forward in order, so every watcher sees every change, in the order
they were committed. The log keeps at most `capacity` changes; anything older is compacted and a
watch (or continue token) that needs it gets 410 Expired, as etcd's compaction causes on a real
server. `compact()` forces that for every resourceVersion older than now.

Callers hold the owning `Storage` lock around `append`/`compact`/`cursor_for`; `read` waits on the
shared condition variable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from lab.apiserver.status import APIError, expired

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    rv: int
    key: str  # resource key, e.g. "pods", "deployments.apps"
    namespace: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj  # the object after the change (for DELETED: the last state, with the deletion's rv)
    old: Obj | None  # the object before the change (None for ADDED)
    raw: bytes  # `obj` as JSON


def too_old(rv: int, oldest: int) -> APIError:
    return expired(f"too old resource version: {rv} ({oldest})")


class History:
    def __init__(self, cond: threading.Condition, capacity: int, start_rv: int) -> None:
        self.cond = cond
        self.capacity = capacity
        self.rv = start_rv
        self.compacted_rv = start_rv
        self._changes: list[Change] = []
        self._base = 0  # absolute index of _changes[0]
        self.closed = False

    @property
    def end(self) -> int:
        return self._base + len(self._changes)

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def append(self, change: Change) -> None:
        self._changes.append(change)
        if len(self._changes) > self.capacity * 2:
            self._trim(len(self._changes) - self.capacity)
        self.cond.notify_all()

    def _trim(self, count: int) -> None:
        self.compacted_rv = self._changes[count - 1].rv
        del self._changes[:count]
        self._base += count

    def compact(self) -> None:
        """Forget all history: any watch or continue from an older resourceVersion gets 410."""
        self.next_rv()
        self._base += len(self._changes)
        self._changes = []
        self.compacted_rv = self.rv
        self.cond.notify_all()

    def check(self, rv: int) -> None:
        if rv < self.compacted_rv:
            raise too_old(rv, self.compacted_rv)

    def cursor_for(self, rv: int) -> int:
        """Absolute index of the first change after `rv` (410 if compacted)."""
        self.check(rv)
        lo, hi = 0, len(self._changes)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._changes[mid].rv <= rv:
                lo = mid + 1
            else:
                hi = mid
        return self._base + lo

    def since(self, rv: int) -> list[Change]:
        """Every change after `rv` (410 if compacted)."""
        return self._changes[self.cursor_for(rv) - self._base :]

    def read(self, cursor: int, timeout: float) -> tuple[list[Change], int]:
        """Changes from `cursor` on, waiting up to `timeout` for one; 410 if they were compacted.

        Call with the condition's lock held (it is released while waiting).
        """
        if cursor >= self.end and not self.closed:
            self.cond.wait(timeout)
        if cursor < self._base:
            raise too_old(self._base_rv(), self.compacted_rv)
        batch = self._changes[cursor - self._base :]
        return batch, cursor + len(batch)

    def _base_rv(self) -> int:
        return self._changes[0].rv if self._changes else self.rv
