"""Pod events the scheduler records (`Scheduled`, `FailedScheduling`), as core/v1 Events.

Like client-go's event correlator, a repeat of the same event for the same pod (same type,
reason and message) within ten minutes updates the existing Event (`count` + 1,
`lastTimestamp`) instead of creating another, so a pod that keeps failing does not flood the
namespace. Recording is best effort: a failure is logged, never raised.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.resources import EVENTS, key_of

log = logging.getLogger("lab.scheduler")
COMPONENT = "default-scheduler"
CORRELATION_WINDOW = 600.0
MAX_REMEMBERED = 4096


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, client: KubeClient, instance: str) -> None:
        self.client = client
        self.instance = instance
        self._seen: OrderedDict[tuple[str, str, str, str], tuple[str, int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, pod: Mapping[str, Any], type_: str, reason: str, message: str, action: str) -> None:
        meta = pod["metadata"]
        key = (str(meta.get("uid")), type_, reason, message)
        stamp = now_rfc3339()
        with self._lock:
            previous = self._seen.pop(key, None)
        name, count = "", 1
        try:
            if previous is not None and time.monotonic() - previous[2] < CORRELATION_WINDOW:
                name, count = previous[0], previous[1] + 1
                if not self._bump(name, meta["namespace"], count, stamp):
                    name, count = "", 1
            if not name:
                name = self._create(pod, stamp, type_=type_, reason=reason, message=message, action=action)
        except KubeError as e:
            log.info("could not record event %s for %s: %s", reason, key_of(pod), e)
            return
        with self._lock:
            self._seen[key] = (name, count, time.monotonic())
            while len(self._seen) > MAX_REMEMBERED:
                self._seen.popitem(last=False)

    def _bump(self, name: str, namespace: str, count: int, stamp: str) -> bool:
        """Count a repeat on the existing Event; False when that Event is gone."""
        try:
            self.client.patch(EVENTS, name, {"count": count, "lastTimestamp": stamp}, namespace)
        except KubeError as e:
            if e.status != 404:
                raise
            return False
        return True

    def _create(
        self, pod: Mapping[str, Any], stamp: str, *, type_: str, reason: str, message: str, action: str
    ) -> str:
        meta = pod["metadata"]
        name = f"{meta['name']}.{uuid.uuid4().hex[:16]}"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "action": action,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        self.client.create(EVENTS, event, meta["namespace"])
        return name
