"""A cache of this node's pods: the `fip.kube` informer with fieldSelector spec.nodeName=NODE.

It exists for speed: an ADD finds the pod's annotation here without an API round trip. It is
never trusted for a negative answer — a miss (or a cache that is not synced, which includes
while the informer re-lists after a lost watch) falls back to a GET — so a lagging watch can only
cost time, never a wrong IP. Re-listing on 410, back-off when the server ends every watch at
once, and the metrics are the informer's (`fip.kube.informer`); this class only adds `wait`, so a
request waiting for the extender's annotation wakes on the pod's next change instead of polling.
`stop()` ends the informer's thread; it is a daemon thread, so it never holds up fipd's exit.
"""

from __future__ import annotations

import threading
from typing import Any

from fip.kube.informer import Informer
from fip.kube.resources import PODS

Obj = dict[str, Any]


class NodePodCache:
    def __init__(self, client: Any, node: str) -> None:
        self._changed = threading.Condition()
        self.informer = Informer(client, PODS, field_selector=f"spec.nodeName={node}", name=f"pods-on-{node}")
        self.informer.add_handler(self._on_change)

    @property
    def synced(self) -> bool:
        return self.informer.synced.is_set()

    def start(self) -> None:
        self.informer.start()

    def stop(self) -> None:
        self.informer.stop(timeout=0)

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.informer.get(f"{namespace}/{name}")

    def wait(self, timeout: float) -> None:
        """Return when a pod of this node changed or `timeout` seconds passed."""
        with self._changed:
            self._changed.wait(timeout)

    def _on_change(self, _kind: str, _obj: Obj, _old: Obj | None) -> None:
        with self._changed:
            self._changed.notify_all()
