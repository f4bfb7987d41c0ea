"""Keep the BPF maps equal to what the cluster's Services and EndpointSlices ask for.

    sync = ServiceSync.for_client(kube_client, datapath.maps, datapath.settings.limits).start()
    ...
    sync.stop()

Two informers (Services, EndpointSlices) only mark the state dirty; one thread does the work:
once both are synced, it reads what the maps hold now (a full re-sync: after a fipd restart the
pinned maps still hold the last state, and frontend ids are kept so no established connection is
re-balanced), computes the desired entries with the pure `bpf.maps.desired`, and applies the
difference (`bpf.maps.plan`). After that it recomputes on every change (changes arriving within
`debounce` seconds are folded into one pass) and diffs against what it last wrote. While an
informer is re-listing (not synced) nothing is written: stale data never removes a Service.

A step the kernel refuses (a map full, ...) is logged and the next pass starts from a fresh read
of the maps. Problems with individual Services (no endpoints, unsupported protocol, IPv6, no room)
are logged once when they appear and once when they clear, and kept in `status()`; they never
stop the other Services.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from bpf.errors import BpfError
from bpf.maps import Limits, MapName, MapState, Problem, desired, plan

log = logging.getLogger(__name__)


class MapWriter(Protocol):
    def read(self) -> MapState: ...

    def put(self, name: MapName, key: Any, value: Any) -> None: ...

    def delete(self, name: MapName, key: Any) -> None: ...


class Source(Protocol):
    """What the sync needs of an informer (`fip.kube.informer.Informer` has it)."""

    synced: threading.Event

    def add_handler(self, handler: Callable[[str, dict[str, Any], dict[str, Any] | None], None]) -> None: ...

    def items(self) -> list[dict[str, Any]]: ...

    def start(self) -> Any: ...

    def stop(self, timeout: float = 5.0) -> None: ...


class ServiceSync:
    def __init__(
        self, maps: MapWriter, limits: Limits, services: Source, slices: Source, *, debounce: float = 0.02
    ) -> None:
        self.maps = maps
        self.limits = limits
        self.services = services
        self.slices = slices
        self.debounce = debounce
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._applied: MapState | None = None
        self._problems: dict[str, Problem] = {}
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.last_error = ""
        self.synced = threading.Event()  # set after the first full re-sync was applied
        for source in (services, slices):
            source.add_handler(self._changed)

    @classmethod
    def for_client(cls, client: Any, maps: MapWriter, limits: Limits, **kw: Any) -> ServiceSync:
        from fip.kube.informer import Informer
        from fip.kube.resources import ENDPOINTSLICES, SERVICES

        return cls(maps, limits, Informer(client, SERVICES, name="bpf-services"),
                   Informer(client, ENDPOINTSLICES, name="bpf-endpointslices"), **kw)  # fmt: skip

    def start(self) -> ServiceSync:
        self.services.start()
        self.slices.start()
        self._thread = threading.Thread(target=self._run, name="bpf-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._dirty.set()
        self.services.stop(timeout)
        self.slices.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict[str, Any]:
        state = self._applied
        return {
            "synced": self.synced.is_set(),
            "frontends": len(state.services) if state else 0,
            "backends": len(state.backends) if state else 0,
            "problems": [str(p) for p in self._problems.values()],
            "last_error": self.last_error,
        }

    def _changed(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self._dirty.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not (self.services.synced.is_set() and self.slices.synced.is_set()):
                self._stop.wait(0.05)
                continue
            self._dirty.clear()
            try:
                self.sync_once()
            except Exception as err:  # a dead sync thread is a silent outage: log, retry
                self.last_error = str(err)
                if isinstance(err, BpfError):
                    log.error("ClusterIP map sync failed (will re-read the maps and retry): %s", err)
                else:
                    log.exception("ClusterIP map sync failed unexpectedly (will retry)")
                self._applied = None
                self._stop.wait(1.0)
                self._dirty.set()
                continue
            self._dirty.wait()
            self._stop.wait(self.debounce)

    def sync_once(self) -> int:
        """One pass; returns the number of map writes. Public for tests and fipd's start-up."""
        started = time.perf_counter()
        current = self._applied if self._applied is not None else self.maps.read()
        ids = {fe: entry.id for fe, entry in current.services.items()}
        want = desired(self.services.items(), self.slices.items(), ids=ids, limits=self.limits)
        steps = plan(current, want.state)
        self._applied = None  # until every step went in, the maps are not what we think
        for step in steps:
            if step.op == "put":
                self.maps.put(step.map, step.key, step.value)
            else:
                self.maps.delete(step.map, step.key)
        self._applied = want.state
        self._report(want.problems)
        self.passes += 1
        self.last_error = ""
        if not self.synced.is_set():
            self.synced.set()
            log.info("ClusterIP maps synced: %d frontends, %d backends (%d writes, %.0f ms)",
                     len(want.state.services), len(want.state.backends), len(steps),
                     (time.perf_counter() - started) * 1000)  # fmt: skip
        elif steps:
            log.debug(
                "ClusterIP maps: %d writes in %.1f ms", len(steps), (time.perf_counter() - started) * 1000
            )
        return len(steps)

    def _report(self, problems: tuple[Problem, ...]) -> None:
        now = {str(p): p for p in problems}
        for text in now.keys() - self._problems.keys():
            log.warning("ClusterIP: %s", text)
        for text in self._problems.keys() - now.keys():
            log.info("ClusterIP: resolved: %s", text)
        self._problems = now
