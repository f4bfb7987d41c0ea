"""When the controllers may act: the one switch every mutating path checks.

Acting needs all of: this replica leads (holds the Lease), no rebuild is running, the caches are
synced. Two replicas never both act because only the Lease holder leads, and the Lease
elector stops leading before the lease can expire (`fip.kube.lease`). `epoch` counts
leadership terms and rebuilds, so state learnt in one term (the reconciler's confirmations)
is dropped in the next.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Gate:
    def __init__(self, synced: Callable[[], bool]) -> None:
        self._synced = synced
        self._lock = threading.Lock()
        self._leading = False
        self._rebuilding = False
        self.epoch = 0
        self.changed = threading.Condition(self._lock)

    @property
    def leading(self) -> bool:
        return self._leading

    @property
    def rebuilding(self) -> bool:
        return self._rebuilding

    def acting(self) -> bool:
        return self._leading and not self._rebuilding and self._synced()

    def set_leading(self, on: bool) -> None:
        with self._lock:
            if self._leading != on:
                self._leading = on
                self.epoch += 1
                self.changed.notify_all()

    def set_rebuilding(self, on: bool) -> None:
        with self._lock:
            if self._rebuilding != on:
                self._rebuilding = on
                self.epoch += 1
                self.changed.notify_all()

    def wait_acting(self, timeout: float) -> bool:
        """Block up to `timeout` s until acting (True) or not (False)."""
        with self._lock:
            self.changed.wait_for(lambda: self._leading and not self._rebuilding, timeout)
        if self.acting():
            return True
        time.sleep(min(timeout, 0.05))  # leading but the caches are (re)syncing: do not spin
        return self.acting()
