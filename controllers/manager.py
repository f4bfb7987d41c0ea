"""The composition of fip-controllers: caches, the gate, the leader election and the loops.

Threads (all daemons, all ended by `stop()`):
- the informers (`ClusterCache`), one per kind;
- the Lease elector: `on_started` opens the gate (and queues every owner, every Subnet and Pool
  and an early reconcile pass), `on_stopped` closes it; only the Lease holder ever acts;
- the release worker, the definitions worker, the periodic reconcile;
- the watchdog: every `watch_period` s it asks the store whether a rebuild is needed (lost
  state, a new server identity) and runs it while leading; `store_ok` feeds /readyz;
- the event writer (Warning events for unreadable pod annotations, while leading).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from controllers.cache import ClusterCache
from controllers.definitions import DefinitionsController
from controllers.gate import Gate
from controllers.metrics import LEADING
from controllers.rebuild import Rebuilder, needed
from controllers.reconcile import Reconciler
from controllers.release import ReleaseController
from fip.core.releaseplan import DEFAULT_GRACE
from fip.kube.errors import KubeError
from fip.kube.lease import LeaderElector, LeaseLock
from fip.store.errors import StoreError, StoreUnavailable
from fip.store.protocol import Store

log = logging.getLogger("fip.controllers")
LEASE_NAME = "fip-controllers"


def tune_gc() -> None:
    """Fewer cyclic-GC passes: the caches hold millions of small objects (100,000 pods), and
    every full collection walks them all (a second each), for garbage that is almost never
    cyclic. The CLI calls this at start; `Controllers` freezes the heap after the first sync,
    so the cached objects are not walked again."""
    gc.set_threshold(200_000, 50, 1000)


class Controllers:
    def __init__(
        self,
        client: Any,
        store: Store,
        *,
        namespace: str,
        identity: str,
        period: float = 60.0,
        grace: float = DEFAULT_GRACE,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        watch_period: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.store = store
        self.period = period
        self.watch_period = watch_period
        self.started_at = time.monotonic()
        self.cache = ClusterCache(client)
        self.gate = Gate(self.cache.synced)
        self.definitions = DefinitionsController(
            self.cache, store, self.gate, client, on_lost=self.kick_watchdog
        )
        self.release = ReleaseController(
            self.cache, store, self.gate, client, on_lost=self.kick_watchdog, clock=clock
        )
        self.reconciler = Reconciler(
            self.cache, store, self.gate, grace=grace, clock=clock, doubt=self.release.queue.add
        )
        self.rebuilder = Rebuilder(self.cache, store, self.gate, self.definitions, clock=clock)
        self.elector = LeaderElector(
            LeaseLock(client, namespace, LEASE_NAME, identity),
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
            on_started=self._started,
            on_stopped=self._stopped,
        )
        self.store_ok = False
        self.ready_at: float | None = None
        self._stop = threading.Event()
        self._watch_kick = threading.Event()
        self._reconcile_kick = threading.Event()
        self._events: queue.Queue[tuple[dict[str, Any], str]] = queue.Queue(maxsize=1000)
        self._warned: set[tuple[str, str]] = set()
        self._frozen = False
        self._threads: list[threading.Thread] = []
        self.cache.problems.append(self._problem)

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> Controllers:
        self.cache.start()
        loops: list[tuple[str, Callable[[], None]]] = [
            ("elector", lambda: self.elector.run(self._stop)),
            ("release", lambda: self.release.run(self._stop)),
            ("definitions", lambda: self.definitions.run(self._stop)),
            ("reconcile", self._reconcile_loop),
            ("watchdog", self._watchdog_loop),
            ("events", self._event_loop),
        ]
        for name, fn in loops:
            t = threading.Thread(target=fn, name=f"fip-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._watch_kick.set()
        self._reconcile_kick.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self.release.queue.shutdown()
        self.definitions.queue.shutdown()
        self.cache.stop()

    def alive(self) -> bool:
        return not self._stop.is_set() and all(t.is_alive() for t in self._threads)

    def ready(self) -> tuple[bool, str]:
        """Ready to act (or to take over): caches synced and the store answering."""
        if not self.cache.synced():
            return False, "caches not synced"
        if not self.store_ok:
            return False, "store not reachable"
        if self.gate.rebuilding:
            return False, "rebuilding the store"
        if self.ready_at is None:
            self.ready_at = time.monotonic()
        return True, "leading" if self.gate.leading else "standby"

    def kick_watchdog(self) -> None:
        self._watch_kick.set()

    # -- leadership ----------------------------------------------------------------------------

    def _started(self) -> None:
        LEADING.set(1)
        self.gate.set_leading(True)
        self._watch_kick.set()
        self._requeue_all()
        self._reconcile_kick.set()

    def _stopped(self) -> None:
        LEADING.set(0)
        self.gate.set_leading(False)

    def _requeue_all(self) -> None:
        for key in self.cache.owner_keys():
            self.release.queue.add(key)
        self.definitions.refresh()

    # -- loops ---------------------------------------------------------------------------------

    def _watchdog_loop(self) -> None:
        while not self._stop.is_set():
            self._watch_kick.wait(self.watch_period)
            self._watch_kick.clear()
            if self._stop.is_set():
                return
            if not self._frozen and self.cache.synced():
                self._frozen = True
                gc.freeze()  # the synced caches: long-lived, never garbage
            try:
                why = needed(self.store)
                self.store_ok = True
            except StoreUnavailable as err:
                if self.store_ok:
                    log.warning("store: %s", err)
                self.store_ok = False
                continue
            except StoreError as err:
                log.warning("store check: %s", err)
                continue
            if why and self.gate.leading and not self.gate.rebuilding:
                try:
                    self.rebuilder.run(why)
                except (StoreError, KubeError) as err:
                    log.error("rebuild failed: %s; trying again", err)
                    self._stop.wait(1.0)
                    self._watch_kick.set()
                    continue
                self._requeue_all()
                self._reconcile_kick.set()

    def _reconcile_loop(self) -> None:
        while not self._stop.is_set():
            self._reconcile_kick.wait(self.period)
            self._reconcile_kick.clear()
            if self._stop.is_set():
                return
            if not self.gate.acting() and self.gate.leading:  # leading but caches syncing: soon
                self.cache.wait_synced(30)
            try:
                result = self.reconciler.run_once()
            except StoreError as err:
                log.warning("reconcile: %s", err)
                continue
            except Exception:
                log.exception("reconcile pass failed")
                continue
            if not result.skipped:
                log.info(
                    "reconcile: %d records, %d pods, %d candidates, %d applied, %d re-recorded, %.2f s",
                    result.records, result.pods, result.candidates, result.applied, result.recorded,
                    result.seconds,
                )  # fmt: skip

    def run_reconcile_now(self) -> None:
        self._reconcile_kick.set()

    def _problem(self, obj: dict[str, Any], message: str) -> None:
        uid = str((obj.get("metadata") or {}).get("uid"))
        if (uid, message) in self._warned:
            return
        self._warned.add((uid, message))
        log.warning(
            "%s/%s: %s",
            (obj.get("metadata") or {}).get("namespace"),
            (obj.get("metadata") or {}).get("name"),
            message,
        )
        with contextlib.suppress(queue.Full):
            self._events.put_nowait((obj, message))

    def _event_loop(self) -> None:
        while not self._stop.is_set():
            try:
                obj, message = self._events.get(timeout=0.5)
            except queue.Empty:
                continue
            if not self.gate.leading:
                continue
            try:
                self.client.create_event(
                    obj, "InvalidFipAnnotation", message, type="Warning", component="fip-controllers"
                )
            except KubeError as err:
                log.info("event not written: %s", err)
