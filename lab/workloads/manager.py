"""Runs the workload controllers from watches, level-based.

Watches (one `Informer` per kind) only decide *which keys* to reconcile: a pod event queues its
controlling owner and the Services in its namespace that select it; a ReplicaSet event queues
itself and its Deployment; an EndpointSlice event queues its Service. Each controller has one
worker thread and a de-duplicating queue, so a key is never reconciled twice at once; a failed
reconcile is retried with a doubling delay (up to `max_retry_delay`). Every `resync` seconds
every object is queued again, which repairs anything a lost event missed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.informer import Informer
from fip.kube.resources import (
    DEPLOYMENTS,
    ENDPOINTSLICES,
    PODS,
    REPLICASETS,
    SERVICES,
    STATEFULSETS,
    TAPPS,
    Resource,
    key_of,
)
from lab.workloads import workload
from lab.workloads.deployment import DeploymentController
from lab.workloads.endpointslice import SERVICE_NAME, EndpointSliceController
from lab.workloads.replicaset import ReplicaSetController
from lab.workloads.statefulset import StatefulSetController
from lab.workloads.tapp import TAppController

log = logging.getLogger("lab.workloads")
Obj = dict[str, Any]


class Reconciler(Protocol):
    resource: Resource

    def reconcile(self, key: str) -> None: ...


class WorkQueue:
    """Keys waiting for one worker; a key added while being processed is processed again after."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._order: list[str] = []
        self._queued: set[str] = set()
        self._busy: set[str] = set()
        self._later: dict[str, float] = {}
        self._closed = False

    def add(self, key: str, delay: float = 0.0) -> None:
        with self._cond:
            if delay > 0:
                self._later[key] = min(self._later.get(key, float("inf")), time.monotonic() + delay)
            else:
                self._push(key)
            self._cond.notify_all()

    def get(self) -> str | None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                for key, when in list(self._later.items()):
                    if when <= now:
                        del self._later[key]
                        self._push(key)
                for i, key in enumerate(self._order):
                    if key not in self._busy:
                        del self._order[i]
                        self._queued.discard(key)
                        self._busy.add(key)
                        return key
                self._cond.wait(0.05)
            return None

    def _push(self, key: str) -> None:
        """Queue `key` at the back unless it already waits (the caller holds the lock)."""
        if key not in self._queued:
            self._queued.add(key)
            self._order.append(key)

    def done(self, key: str) -> None:
        with self._cond:
            self._busy.discard(key)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return not (self._order or self._busy or self._later)


class Manager:
    def __init__(self, client: KubeClient, resync: float = 30.0, max_retry_delay: float = 10.0) -> None:
        self.client = client
        self.resync = resync
        self.max_retry_delay = max_retry_delay
        self.controllers: dict[str, Reconciler] = {
            "deployment": DeploymentController(client),
            "replicaset": ReplicaSetController(client),
            "statefulset": StatefulSetController(client),
            "tapp": TAppController(client),
            "endpointslice": EndpointSliceController(client),
        }
        self.queues = {name: WorkQueue() for name in self.controllers}
        self._owner_queue = {"ReplicaSet": "replicaset", "StatefulSet": "statefulset", "TApp": "tapp"}
        self.informers = {res.plural: Informer(client, res) for res in (
            PODS, DEPLOYMENTS, REPLICASETS, STATEFULSETS, TAPPS, SERVICES, ENDPOINTSLICES)}  # fmt: skip
        self.informers["pods"].add_handler(self._on_pod)
        self.informers["deployments"].add_handler(self._enqueue_self("deployment"))
        self.informers["replicasets"].add_handler(self._on_replicaset)
        self.informers["statefulsets"].add_handler(self._enqueue_self("statefulset"))
        self.informers["tapps"].add_handler(self._enqueue_self("tapp"))
        self.informers["services"].add_handler(self._enqueue_self("endpointslice"))
        self.informers["endpointslices"].add_handler(self._on_endpointslice)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def start(self) -> None:
        for informer in self.informers.values():
            informer.start()
        for informer in self.informers.values():
            informer.synced.wait(30)
        for name in self.controllers:
            t = threading.Thread(target=self._work, args=(name,), name=f"ctrl-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._resync_loop, name="ctrl-resync", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for q in self.queues.values():
            q.close()
        for informer in self.informers.values():
            informer.stop()
        for t in self._threads:
            t.join(timeout=5)

    def idle(self) -> bool:
        return all(q.idle() for q in self.queues.values())

    # -- event -> keys --------------------------------------------------------------------------

    def _enqueue_self(self, name: str) -> Callable[[str, Obj, Obj | None], None]:
        def handler(_kind: str, obj: Obj, _old: Obj | None) -> None:
            self.queues[name].add(key_of(obj))

        return handler

    def _on_replicaset(self, _kind: str, rs: Obj, _old: Obj | None) -> None:
        self.queues["replicaset"].add(key_of(rs))
        ref = workload.controller_of(rs)
        if ref and ref.get("kind") == "Deployment":
            self.queues["deployment"].add(f"{rs['metadata']['namespace']}/{ref['name']}")

    def _on_pod(self, _kind: str, pod: Obj, old: Obj | None) -> None:
        ns = pod["metadata"]["namespace"]
        for obj in (pod, old):
            ref = workload.controller_of(obj) if obj else None
            if ref and ref.get("kind") in self._owner_queue:
                self.queues[self._owner_queue[ref["kind"]]].add(f"{ns}/{ref['name']}")
        labels = [(o["metadata"].get("labels") or {}) for o in (pod, old) if o]
        for svc in self.informers["services"].items():
            if svc["metadata"].get("namespace") != ns:
                continue
            selector = (svc.get("spec") or {}).get("selector")
            if selector and any(workload.matches({"matchLabels": selector}, lab) for lab in labels):
                self.queues["endpointslice"].add(key_of(svc))

    def _on_endpointslice(self, _kind: str, eps: Obj, _old: Obj | None) -> None:
        service = (eps["metadata"].get("labels") or {}).get(SERVICE_NAME)
        if service:
            self.queues["endpointslice"].add(f"{eps['metadata']['namespace']}/{service}")

    # -- workers --------------------------------------------------------------------------------

    def _work(self, name: str) -> None:
        queue, controller = self.queues[name], self.controllers[name]
        failures: dict[str, int] = {}
        while not self._stop.is_set():
            key = queue.get()
            if key is None:
                return
            try:
                controller.reconcile(key)
                failures.pop(key, None)
            except (KubeError, KeyError, ValueError, TypeError) as e:
                failures[key] = failures.get(key, 0) + 1
                delay = min(self.max_retry_delay, 0.05 * 2 ** failures[key])
                message = f"{name} {key}: {e} (retry in {delay:.2f}s)"
                log.info(message)
                self.errors.append(message)
                del self.errors[:-100]
                queue.add(key, delay)
            finally:
                queue.done(key)

    def _resync_loop(self) -> None:
        while not self._stop.wait(self.resync):
            for name, controller in self.controllers.items():
                for obj in self.informers[controller.resource.plural].items():
                    self.queues[name].add(key_of(obj))
