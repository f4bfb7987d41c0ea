"""A cache of this node's pods, kept by list + watch (fieldSelector spec.nodeName=NODE).

It exists for speed: an ADD finds the pod's annotation here without an API round trip. It is
never trusted for a negative answer — a miss (or a not-yet-synced cache) falls back to a GET —
so a lagging watch can only cost time, never a wrong IP. A 410 re-lists; any other failure
re-lists after a back-off, and so does a watch the server ends at once (within `MIN_WATCH`
seconds): an API server on its way out (the lab's, after `stop()`, still answers on open
keep-alive connections and ends every watch at once) would otherwise be watched again in a busy
loop. `stop()` ends the thread at the next event, back-off or watch timeout; it is a daemon
thread, so it never holds up fipd's exit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from fip.kube.errors import Expired, KubeError

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MIN_WATCH = 1.0  # seconds; a watch that ends sooner (and without events) backs off first
MAX_BACKOFF = 30.0


class NodePodCache:
    def __init__(
        self,
        list_pods: Callable[[], Obj],
        watch_pods: Callable[[str], Iterator[Obj]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list = list_pods
        self._clock = clock
        self._watch = watch_pods
        self._pods: dict[str, Obj] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.synced = False
        self._thread = threading.Thread(target=self._run, name="pod-cache", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def get(self, namespace: str, name: str) -> Obj | None:
        with self._cond:
            return self._pods.get(f"{namespace}/{name}") if self.synced else None

    def wait(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait(timeout)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                rv = self._relist()
                while not self._stop.is_set():
                    started = self._clock()
                    rv, events = self._follow(rv)
                    if events or self._clock() - started >= MIN_WATCH:
                        backoff = 0.5
                        continue
                    log.debug("pod cache: the watch ended at once; watching again in %.1f s", backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
            except Expired:
                continue
            except KubeError as err:
                log.warning("pod cache: %s; retrying in %.1f s", err, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _relist(self) -> str:
        lst = self._list()
        pods = {_key(p): p for p in lst.get("items") or []}
        with self._cond:
            self._pods = pods
            self.synced = True
            self._cond.notify_all()
        return str((lst.get("metadata") or {}).get("resourceVersion") or "")

    def _follow(self, rv: str) -> tuple[str, int]:
        """Apply one watch's events; (the last resourceVersion seen, how many events came)."""
        events = 0
        for event in self._watch(rv):
            if self._stop.is_set():
                break
            events += 1
            obj = event.get("object") or {}
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
            kind = event.get("type")
            if kind == "BOOKMARK":
                continue
            with self._cond:
                if kind == "DELETED":
                    self._pods.pop(_key(obj), None)
                else:
                    self._pods[_key(obj)] = obj
                self._cond.notify_all()
        return rv, events


def _key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
