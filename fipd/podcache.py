"""A cache of this node's pods, kept by list + watch (fieldSelector spec.nodeName=NODE).

It exists for speed: an ADD finds the pod's annotation here without an API round trip. It is
never trusted for a negative answer — a miss (or a not-yet-synced cache) falls back to a GET —
so a lagging watch can only cost time, never a wrong IP. A 410 re-lists; any other failure
re-lists after a back-off. `stop()` ends the thread at the next event or watch timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from fip.kube.errors import Expired, KubeError

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class NodePodCache:
    def __init__(
        self,
        list_pods: Callable[[], Obj],
        watch_pods: Callable[[str], Iterator[Obj]],
    ) -> None:
        self._list = list_pods
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
                backoff = 0.5
                while not self._stop.is_set():
                    rv = self._follow(rv)
            except Expired:
                continue
            except KubeError as err:
                log.warning("pod cache: %s; retrying in %.1f s", err, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _relist(self) -> str:
        lst = self._list()
        pods = {_key(p): p for p in lst.get("items") or []}
        with self._cond:
            self._pods = pods
            self.synced = True
            self._cond.notify_all()
        return str((lst.get("metadata") or {}).get("resourceVersion") or "")

    def _follow(self, rv: str) -> str:
        for event in self._watch(rv):
            if self._stop.is_set():
                break
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
        return rv


def _key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
