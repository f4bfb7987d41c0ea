"""Test control: faults and outages a test can switch on, in process or over HTTP.

- `inject(verb, resource, latency=0.0, status=None, times=None)`: requests with that verb
  (get, list, watch, create, update, patch, delete, deletecollection; "*" for any) on that resource
  (plural such as "pods", "pods/binding", "subnets"; "*" for any) sleep `latency` seconds, then
  fail with `status` (a Status body like the real server's) if it is set. `times` limits how many
  requests are affected (None = until `clear()`).
- `drop_watches()`: every open watch stream ends now (cleanly, as when a real server's watch times
  out or restarts; the official client then resumes from its last resourceVersion).
- `compact()`: forget the change history, so every watch or continue from an older
  resourceVersion gets 410 Expired (combine with `drop_watches()` to force clients to re-list).
- `pause()` / `resume()`: while paused, requests (and watch deliveries) wait, as if the server
  stalled; they proceed on resume.

Over HTTP the same operations are `POST /_lab/inject` (JSON body with the same keys), `/_lab/clear`,
`/_lab/drop-watches`, `/_lab/compact`, `/_lab/pause`, `/_lab/resume`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from lab.apiserver.status import APIError
from lab.apiserver.store import Store

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(slots=True)
class Fault:
    verb: str
    resource: str
    latency: float
    status: int | None
    times: int | None


class Control:
    def __init__(self, storage: Store) -> None:
        self._storage = storage
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._running = threading.Event()
        self._running.set()
        self.watch_epoch = 0  # bumped by drop_watches(); open watches end when it changes

    def inject(
        self,
        verb: str,
        resource: str,
        latency: float = 0.0,
        status: int | None = None,
        times: int | None = None,
    ) -> None:
        with self._lock:
            self._faults.append(Fault(verb, resource, latency, status, times))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def drop_watches(self) -> None:
        with self._storage.lock:
            self.watch_epoch += 1
            self._storage.cond.notify_all()

    def compact(self) -> None:
        with self._storage.lock:
            self._storage.history.compact()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_running(self, timeout: float | None = None) -> bool:
        return self._running.wait(timeout)

    def apply(self, verb: str, resource: str) -> None:
        """Called for each API request: sleep and/or raise as the matching faults say."""
        self._running.wait()
        latency, status = 0.0, None
        with self._lock:
            for fault in list(self._faults):
                if fault.verb not in {"*", verb} or fault.resource not in {"*", resource}:
                    continue
                latency += fault.latency
                status = fault.status if fault.status is not None else status
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
        if latency:
            time.sleep(latency)
        if status is not None:
            raise APIError(
                status, REASONS.get(status, "InternalError"), f"injected fault: {verb} {resource} -> {status}"
            )
