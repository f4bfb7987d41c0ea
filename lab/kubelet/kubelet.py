"""The kubelet stand-in: runs the pods bound to one node, as far as networking goes.

One per simulated node. It registers the Node, watches the pods bound to it (an informer with
`fieldSelector=spec.nodeName=<node>`) and, per pod key, levels the node to the pod:

- a new pod that asks for `fip.io/ip` gets a sandbox: the netns `<prefix>-p-<uid>`, CNI ADD
  through the node's conflist exactly as containerd runs it (`lab.kubelet.cni`), then its
  "container" (`lab.kubelet.container`, an HTTP server answering the pod's name and IP) inside
  that netns; then status Running / Ready with podIP through the status subresource. A CNI
  failure leaves nothing behind (DEL, netns removed), posts a FailedCreatePodSandBox event,
  marks the pod Pending with the reason, and is retried with back-off, as a kubelet does.
- a pod without `fip.io/ip`, or with hostNetwork, gets no sandbox and no CNI call: the lab has
  no primary pod network. A hostNetwork pod reports the node's IP as its podIP (as on a real
  node); any other such pod reports Running with no podIP. Nothing serves for them.
- a pod with a deletionTimestamp: stop its container, CNI DEL, remove the netns, then confirm
  the graceful deletion (DELETE with gracePeriodSeconds=0 and the pod's UID as precondition).
- a pod gone from the API (force-deleted, or replaced by one of the same name and another UID):
  its sandbox is torn down the same way, found through the kubelet's sandbox records.

A negative ("the pod is gone") is acted on only with a synced informer. At start-up, records of
pods that no longer exist are torn down and the containers of the others are started again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from bridge import netlink
from bridge.netlink import Netlink
from fip.kube.client import KubeClient
from fip.kube.errors import Conflict, KubeError, NotFound
from fip.kube.informer import Informer
from fip.kube.resources import NODES, PODS, key_of
from fip.kube.workqueue import WorkQueue
from lab.cluster.errors import LabError
from lab.kubelet import status
from lab.kubelet.cni import CNIFailed, Runtime, result_ips
from lab.kubelet.container import PORT, Container
from lab.kubelet.sandboxes import Record, Store, netns_name

Obj = dict[str, Any]
log = logging.getLogger("lab.kubelet")
EVENT_REPEAT = 60.0  # seconds before the same sandbox failure is posted as an Event again
REGISTER_PERIOD = 10.0  # seconds between checks that the Node still exists


def _netns_exists(name: str) -> bool:
    return os.path.exists(f"/var/run/netns/{name}")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Kubelet:
    def __init__(
        self,
        client: KubeClient,
        node: Obj,
        *,
        runtime: Runtime,
        store: Store,
        prefix: str,
        port: int = PORT,
        workers: int = 4,
    ) -> None:
        self.client = client
        self.node_obj = node
        self.node = str(node["metadata"]["name"])
        self.node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        self.runtime = runtime
        self.store = store
        self.prefix = prefix
        self.port = port
        self.informer = Informer(
            client, PODS, field_selector=f"spec.nodeName={self.node}", resync=30.0, name=f"pods@{self.node}"
        )
        self.queue: WorkQueue[str] = WorkQueue(f"kubelet-{self.node}", base_delay=0.5, max_delay=10.0)
        self.records: dict[str, Record] = {r.uid: r for r in store.all()}
        self.containers: dict[str, Container] = {}
        self._lock = threading.Lock()
        self._reported: dict[str, tuple[str, float]] = {}  # uid -> (last sandbox failure, when posted)
        self._stopped = threading.Event()
        self._workers = [
            threading.Thread(target=self._work, name=f"kubelet-{i}", daemon=True) for i in range(workers)
        ]

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, sync_timeout: float = 30.0) -> None:
        self.register()
        self.informer.add_handler(lambda kind, obj, old: self.queue.add(key_of(obj)))
        self.informer.start()
        if not self.informer.wait_synced(sync_timeout):
            raise LabError(
                f"kubelet {self.node}: no pod list from {self.client.server} in {sync_timeout:g} s"
            )
        live = {(p.get("metadata") or {}).get("uid") for p in self.informer.items()}
        for rec in list(self.records.values()):
            if rec.uid not in live:  # gone while we were down: tear down now
                self.queue.add(f"{rec.namespace}/{rec.name}")
        for w in self._workers:
            w.start()
        threading.Thread(target=self._keep_registered, name="node-status", daemon=True).start()

    def _keep_registered(self) -> None:
        """Every REGISTER_PERIOD s: the Node still exists (the lab API server keeps objects in
        memory, so a restarted one has none), else register it again, as a kubelet does."""
        while not self._stopped.wait(REGISTER_PERIOD):
            try:
                self.client.get(NODES, self.node)
            except NotFound:
                with contextlib.suppress(KubeError):
                    self.register()
                    log.info("node %s registered again (the API server had lost it)", self.node)
            except KubeError:
                continue

    def stop(self) -> None:
        """Stop watching and serving; sandboxes stay (a restarted kubelet takes them over)."""
        self._stopped.set()
        self.queue.shutdown()
        self.informer.stop()
        for w in self._workers:
            w.join(timeout=5)
        with self._lock:
            containers, self.containers = list(self.containers.values()), {}
        for c in containers:
            c.stop()

    def register(self) -> None:
        """Create this Node, or bring an existing one's labels, annotations and status up to date."""
        try:
            self.client.create(NODES, self.node_obj)
        except Conflict:
            meta = self.node_obj["metadata"]
            patch = {"metadata": {"labels": meta["labels"], "annotations": meta["annotations"]}}
            self.client.patch(NODES, self.node, patch)
        self.client.patch(NODES, self.node, {"status": self.node_obj["status"]}, sub="status")

    @property
    def healthy(self) -> bool:
        return self.informer.synced.is_set() and all(w.is_alive() for w in self._workers)

    # -- the work loop ----------------------------------------------------------------------------

    def _work(self) -> None:
        while (key := self.queue.get()) is not None:
            try:
                self.sync(key)
                self.queue.forget(key)
            except (KubeError, LabError, OSError) as err:
                delay = self.queue.retry(key)
                log.warning("pod %s: %s (retry in %.1f s)", key, err, delay)
            except Exception:
                log.exception("pod %s: unexpected error", key)
                self.queue.retry(key)
            finally:
                self.queue.done(key)

    def sync(self, key: str) -> None:
        if not self.informer.synced.is_set():
            self.queue.add_after(key, 1.0)  # never act on a stale cache
            return
        pod = self.informer.get(key)
        uid = (pod or {}).get("metadata", {}).get("uid")
        namespace, _, name = key.partition("/")
        with self._lock:
            stale = [
                r
                for r in self.records.values()
                if (r.namespace, r.name) == (namespace, name) and r.uid != uid
            ]
        for rec in stale:
            self.teardown(rec)
        if pod is None or not uid:
            return
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            with self._lock:
                gone = self.records.get(uid)
            if gone is not None:
                self.teardown(gone)
            self._confirm_deletion(namespace, name, uid)
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        with self._lock:
            known = self.records.get(uid)
        if known is None:
            rec = self._create(pod)
        elif known.networked and uid not in self.containers:
            if not _netns_exists(known.netns):
                self.teardown(known)  # someone removed the sandbox: make a new one
                rec = self._create(pod)
            else:
                self._start_container(known)
                rec = known
        else:
            rec = known
        if not status.reported(pod, rec.pod_ip):
            patch = status.running(pod, rec.pod_ip, self.node_ip, _now(), rec.sandbox.container_id)
            self.client.patch(PODS, name, patch, namespace, sub="status", patch_type="strategic")

    # -- sandboxes --------------------------------------------------------------------------------

    def _create(self, pod: Obj) -> Record:
        meta = pod["metadata"]
        uid = str(meta["uid"])
        networked = status.wants_fip(pod) and not status.host_network(pod)
        rec = Record(meta["namespace"], meta["name"], uid, netns_name(self.prefix, uid), networked=networked)
        if not networked:
            rec.pod_ip = self.node_ip if status.host_network(pod) else None
            self._keep(rec)
            return rec
        self._keep(rec)  # recorded before anything exists: a crash from here on is found again
        try:
            if not _netns_exists(rec.netns):
                netlink.create_netns(rec.netns)
            with Netlink(rec.netns) as nl:
                nl.set_link("lo", up=True)
            result = self.runtime.add(rec.sandbox)
            ips = result_ips(result)
            if not ips:
                raise CNIFailed("fip-cni", "ADD", 999, "the result has no IP address", str(result)[:200])
            rec.pod_ip, rec.result = ips[0], result
            self._keep(rec)
            self._start_container(rec)
        except (CNIFailed, LabError, OSError) as err:
            self._undo(rec)
            self._sandbox_failed(pod, str(err))
            raise
        log.info("pod %s/%s: sandbox up, IP %s", rec.namespace, rec.name, rec.pod_ip)
        return rec

    def _start_container(self, rec: Record) -> None:
        identity = {
            "pod": f"{rec.namespace}/{rec.name}",
            "uid": rec.uid,
            "ip": rec.pod_ip or "",
            "node": self.node,
        }
        container = Container.start(rec.netns, identity, self.port)
        with self._lock:
            self.containers[rec.uid] = container

    def teardown(self, rec: Record) -> None:
        """Stop the container, CNI DEL, remove the netns, forget the record; idempotent. A failed
        DEL keeps the record (and raises) so the next pass runs it again."""
        with self._lock:
            container = self.containers.pop(rec.uid, None)
        if container is not None:
            container.stop()
        if rec.networked:
            self.runtime.delete(rec.sandbox, rec.result)
            netlink.remove_netns(rec.netns)
        with self._lock:
            self.records.pop(rec.uid, None)
        self.store.drop(rec.uid)
        log.info("pod %s/%s (uid %s): sandbox removed", rec.namespace, rec.name, rec.uid)

    def _undo(self, rec: Record) -> None:
        try:
            self.teardown(rec)
        except (CNIFailed, LabError, OSError) as err:
            log.warning("pod %s/%s: cleaning up the failed sandbox: %s", rec.namespace, rec.name, err)
            netlink.remove_netns(rec.netns)

    def _keep(self, rec: Record) -> None:
        with self._lock:
            self.records[rec.uid] = rec
        self.store.put(rec)

    def _sandbox_failed(self, pod: Obj, message: str) -> None:
        """Report on the pod. The same message again within EVENT_REPEAT seconds posts no new
        Event (a kubelet's recorder aggregates repeats too): retries must not flood the API."""
        meta = pod["metadata"]
        now = time.monotonic()
        with self._lock:
            last = self._reported.get(meta["uid"])
            post = last is None or last[0] != message or now - last[1] > EVENT_REPEAT
            if post:
                self._reported[meta["uid"]] = (message, now)
        try:
            if post:
                self.client.create_event(
                    pod, "FailedCreatePodSandBox", message, type="Warning", component="kubelet"
                )
            patch = status.sandbox_failed(pod, self.node_ip, _now(), message)
            self.client.patch(
                PODS, meta["name"], patch, meta["namespace"], sub="status", patch_type="strategic"
            )
        except KubeError as err:
            log.warning("pod %s/%s: reporting the sandbox failure: %s", meta["namespace"], meta["name"], err)

    def _confirm_deletion(self, namespace: str, name: str, uid: str) -> None:
        with self._lock:
            self._reported.pop(uid, None)
        with contextlib.suppress(NotFound, Conflict):  # gone already, or a new pod of that name
            self.client.delete(PODS, name, namespace, uid=uid, grace_period=0)
