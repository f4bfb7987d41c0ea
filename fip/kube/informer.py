"""The one informer: list + watch of one resource into a cache, with handlers.

How it works, and what a caller may rely on:
- It lists, then watches from the list's resourceVersion (with bookmarks, so a quiet watch
  still moves its resourceVersion forward). A watch the server ends cleanly (its timeout) is
  opened again from the last resourceVersion seen: nothing is missed, nothing re-listed.
- A 410 Gone (the resourceVersion was compacted away) or any failure re-lists. The re-list is
  diffed against the cache and the differences replayed to the handlers as ADDED / MODIFIED /
  DELETED, so handlers see every change once and in order even across a lost watch. Failures
  back off: 0.2 s doubling to `MAX_BACKOFF`, reset after a watch that delivered something or
  lasted `MIN_WATCH` seconds (a server on its way out ends every watch at once; without this
  the informer would spin).
- `synced` is set after the first full list and CLEARED from the moment a watch fails until the
  re-list succeeds: while it is clear, the cache may be missing changes, and `get` answers
  None. Callers that decide on a negative ("this pod is gone") must check `synced` first: stale
  data is never presented as current.
- Handlers run one at a time (one lock), on the informer's thread or the resync timer's, and
  must be quick: enqueue a key (`fip.kube.workqueue`). A handler that raises is logged and the
  informer goes on (a dead informer is a silent outage).
- `resync` > 0 replays MODIFIED(obj, obj) for every cached object each `resync` seconds: the
  level-based reconcilers' safety net for a missed or mis-handled change.

The client only needs `list(res, ns, label_selector=, field_selector=)` and `watch(res, rv, ns,
...)` as `fip.kube.client.KubeClient` has them, so tests may hand in a fake.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from fip.kube.errors import Expired, KubeError
from fip.kube.metrics import RELISTS, WATCH_RESTARTS
from fip.kube.resources import Resource, key_of

Obj = dict[str, Any]
Handler = Callable[[str, Obj, "Obj | None"], None]
log = logging.getLogger(__name__)

MIN_WATCH = 1.0  # seconds; a watch that ends sooner without events counts as a failure
MIN_BACKOFF = 0.2
MAX_BACKOFF = 30.0


class _Watch(Protocol):
    def __iter__(self) -> Any: ...

    def close(self) -> None: ...


class _Client(Protocol):
    def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> Obj: ...

    def watch(
        self,
        res: Resource,
        resource_version: str,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int = 300,
    ) -> Any: ...


class Informer:
    def __init__(
        self,
        client: _Client,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        resync: float = 0.0,
        watch_timeout: int = 300,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.res = res
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync = resync
        self.watch_timeout = watch_timeout
        self.name = name or str(res)
        self.synced = threading.Event()
        self.relists = 0
        self.resource_version = ""
        self._clock = clock
        self._handlers: list[Handler] = []
        self._cache: dict[str, Obj] = {}
        self._lock = threading.Lock()  # the cache
        self._emitting = threading.RLock()  # handlers run one at a time
        self._stop = threading.Event()
        self._watch: _Watch | None = None
        self._threads: list[threading.Thread] = []

    # -- the caller's side -----------------------------------------------------------------------

    def add_handler(self, handler: Handler) -> None:
        """Add before `start()`; a handler added later misses the initial ADDED burst."""
        self._handlers.append(handler)

    def get(self, key: str) -> Obj | None:
        """The cached object under `namespace/name` (or `name`); None when absent or not synced."""
        with self._lock:
            return self._cache.get(key) if self.synced.is_set() else None

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self._cache.values())

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._cache)

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self.synced.wait(timeout)

    def start(self) -> Informer:
        run = threading.Thread(target=self._run, name=f"informer-{self.name}", daemon=True)
        self._threads.append(run)
        run.start()
        if self.resync > 0:
            timer = threading.Thread(target=self._resync_loop, name=f"resync-{self.name}", daemon=True)
            self._threads.append(timer)
            timer.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        watch = self._watch
        if watch is not None:
            watch.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    # -- the loop ---------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = MIN_BACKOFF
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                started, events = self._clock(), self._follow()
                if self._stop.is_set():
                    return
                if events or self._clock() - started >= MIN_WATCH:
                    backoff = MIN_BACKOFF
                    WATCH_RESTARTS.labels(resource=self.name, reason="ended").inc()
                    continue
                WATCH_RESTARTS.labels(resource=self.name, reason="ended-at-once").inc()
                log.info("informer %s: the watch ended at once; watching again in %.1f s", self.name, backoff)
            except Expired:
                WATCH_RESTARTS.labels(resource=self.name, reason="expired").inc()
                rv = self.resource_version
                log.info("informer %s: resourceVersion %s expired; listing again", self.name, rv)
                self.synced.clear()
                need_list = True
                if backoff == MIN_BACKOFF:  # the first 410 re-lists at once
                    backoff *= 2
                    continue
            except KubeError as err:
                WATCH_RESTARTS.labels(resource=self.name, reason="error").inc()
                log.warning("informer %s: %s; listing again in %.1f s", self.name, err, backoff)
                self.synced.clear()
                need_list = True
            except Exception:  # keep going whatever happened; a dead informer is a silent outage
                WATCH_RESTARTS.labels(resource=self.name, reason="bug").inc()
                log.exception("informer %s: unexpected error; listing again in %.1f s", self.name, backoff)
                self.synced.clear()
                need_list = True
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _relist(self) -> None:
        listed = self.client.list(
            self.res, self.namespace, label_selector=self.label_selector, field_selector=self.field_selector
        )
        fresh = {key_of(o): o for o in listed.get("items") or []}
        with self._emitting:
            with self._lock:
                old, self._cache = self._cache, dict(fresh)
            for key, obj in fresh.items():
                previous = old.get(key)
                if previous is None:
                    self._emit("ADDED", obj, None)
                elif _rv(previous) != _rv(obj):
                    self._emit("MODIFIED", obj, previous)
            for key, previous in old.items():
                if key not in fresh:
                    self._emit("DELETED", previous, previous)
            self.resource_version = str((listed.get("metadata") or {}).get("resourceVersion") or "0")
            self.relists += 1
            RELISTS.labels(resource=self.name).inc()
            self.synced.set()

    def _follow(self) -> int:
        """Apply one watch's events; how many came. Raises what the watch raises."""
        self._watch = self.client.watch(
            self.res,
            self.resource_version,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            timeout_seconds=self.watch_timeout,
        )
        events = 0
        try:
            for event in self._watch:
                if self._stop.is_set():
                    break
                events += 1
                self._apply(event)
        finally:
            self._watch = None
        if events and not self.synced.is_set():
            self.synced.set()
        return events

    def _apply(self, event: Obj) -> None:
        obj = event.get("object") or {}
        kind = event.get("type")
        rv = _rv(obj)
        if kind == "BOOKMARK":
            self.resource_version = rv or self.resource_version
            return
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            log.warning("informer %s: ignoring a watch event of type %r", self.name, kind)
            return
        key = key_of(obj)
        with self._emitting:
            with self._lock:
                old = self._cache.get(key)
                if kind == "DELETED":
                    self._cache.pop(key, None)
                else:
                    self._cache[key] = obj
            if kind == "ADDED" and old is not None:
                kind = "MODIFIED"
            if not (kind == "DELETED" and old is None):
                self._emit(kind, obj, old)
            self.resource_version = rv or self.resource_version

    def _emit(self, kind: str, obj: Obj, old: Obj | None) -> None:
        for handler in self._handlers:
            try:
                handler(kind, obj, old)
            except Exception:
                log.exception("informer %s: a handler failed on %s %s", self.name, kind, key_of(obj))

    def _resync_loop(self) -> None:
        while not self._stop.wait(self.resync):
            if not self.synced.is_set():
                continue
            with self._emitting:
                for obj in self.items():
                    self._emit("MODIFIED", obj, obj)


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def wait_all_synced(informers: Iterable[Informer], timeout: float) -> bool:
    """True when every informer synced within `timeout` seconds in total."""
    deadline = time.monotonic() + timeout
    return all(inf.wait_synced(max(0.0, deadline - time.monotonic())) for inf in informers)
