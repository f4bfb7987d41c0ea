"""The rest of the fabric for the controllers' e2e tests: an extender + kubelet stand-in.

`Fabric` polls the lab API server every `period` seconds and does what the scheduler extender's
bind, fipd and the kubelet do for a pod, with the real store:
- an unbound pod gets an IP from the store for its owner (`fip.core.podowner`), then the Binding
  with the `fip.io/allocation` annotation; a failed Binding releases the IP again;
- a bound pod becomes Running (status subresource) and its record `bound` (fipd's step);
- a pod being deleted is confirmed gone (DELETE with grace 0, the kubelet's step).
A StatefulSet/TApp instance whose previous pod still holds an IP under another UID waits (as
Galaxy's "waiting for delete event"): the controllers first reserve that IP for the instance,
so the recreated pod gets it back. Likewise an immutable/never Deployment that holds `replicas`
IPs with none reserved waits (Galaxy's "wait for releasing").

Objects: `statefulset`, `deployment`, `tapp`, `bare_pod` build minimal valid manifests with the
release policy in the pod template.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fip.core.annotation import KEY, Allocation, parse
from fip.core.errors import FipError
from fip.core.kubeview import deployment_index
from fip.core.owner import OwnerKind
from fip.core.podowner import resolve
from fip.core.policy import ReleasePolicy
from fip.core.record import IPState
from fip.core.spec import subnet_to_resource
from fip.core.subnet import Subnet
from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.resources import DEPLOYMENTS, PODS, REPLICASETS, SUBNETS
from fip.store.errors import StoreError
from fip.store.protocol import AllocateRequest, Store

Obj = dict[str, Any]
NS = "default"
CONTAINERS = [{"name": "app", "image": "busybox:1", "resources": {"limits": {"fip.io/ip": "1"}}}]


def template(app: str, policy: str | None) -> Obj:
    ann = {"fip.io/release-policy": policy} if policy else {}
    return {
        "metadata": {"labels": {"app": app}, "annotations": ann},
        "spec": {"containers": CONTAINERS, "terminationGracePeriodSeconds": 1},
    }


def statefulset(name: str, replicas: int, policy: str | None = None) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, policy),
        },
    }


def deployment(name: str, replicas: int, policy: str | None = None) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, policy),
        },
    }


def tapp(name: str, replicas: int, policy: str | None = None, killed: tuple[str, ...] = ()) -> Obj:
    return {
        "apiVersion": "apps.tkestack.io/v1",
        "kind": "TApp",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, policy),
            "statuses": dict.fromkeys(killed, "Killed"),
        },
    }


def bare_pod(name: str, policy: str | None = None) -> Obj:
    t = template(name, policy)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, **t["metadata"]},
        "spec": t["spec"],
    }


class Fabric:
    def __init__(
        self,
        client: KubeClient,
        store: Store,
        subnet: Subnet,
        *,
        node: str = "node-1",
        period: float = 0.05,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.store = store
        self.subnet = subnet
        self.node = node
        self.period = period
        self.clock = clock
        self.enabled = threading.Event()
        self.enabled.set()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fabric", daemon=True)

    def __enter__(self) -> Fabric:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            if not self.enabled.is_set():
                continue
            try:
                self.sync()
            except FipError as err:  # a refused pod (bad annotation), the store, the API: next round
                self.errors.append(str(err))

    def sync(self) -> None:
        pods = self.client.list(PODS, NS).get("items") or []
        deployment_of = deployment_index(self.client.list(REPLICASETS, NS).get("items") or [])
        for pod in pods:
            meta, spec = pod["metadata"], pod.get("spec") or {}
            phase = (pod.get("status") or {}).get("phase")
            if meta.get("deletionTimestamp"):
                with contextlib.suppress(KubeError):
                    self.client.delete(PODS, meta["name"], NS, uid=meta["uid"], grace_period=0)
            elif not spec.get("nodeName"):
                self._schedule(pod, deployment_of)
            elif phase not in ("Running", "Succeeded", "Failed"):
                self._start(pod)

    def _schedule(self, pod: Obj, deployment_of: Callable[[str, str], str | None]) -> None:
        meta = pod["metadata"]
        who = resolve(pod, deployment_of)
        if who.owner.instance is not None:
            held = [r for r in self.store.by_owner(who.owner) if r.pod_uid and r.pod_uid != meta["uid"]]
            if held:
                return  # the previous pod's IP is not reserved yet: wait, as the extender does
        elif who.owner.kind is OwnerKind.DEPLOYMENT and who.policy is not ReleasePolicy.POD:
            # Galaxy's rule: a Deployment holding `replicas` IPs waits for one to be reserved
            recs = self.store.by_owner(who.owner)
            mine = any(r.pod_uid == meta["uid"] for r in recs)
            free = any(r.state is IPState.RESERVED for r in recs)
            try:
                replicas = int(self.client.get(DEPLOYMENTS, who.owner.name, NS)["spec"].get("replicas", 1))
            except KubeError:
                return
            if not mine and not free and len(recs) >= replicas:
                return
        try:
            rec = self.store.allocate(
                AllocateRequest(
                    subnet=self.subnet.name,
                    owner=who.owner,
                    pod_uid=meta["uid"],
                    pod_name=meta["name"],
                    node=self.node,
                    policy=who.policy,
                    now=self.clock(),
                )
            )
        except StoreError:
            return  # frozen (rebuilding) or full: the pod stays Pending, tried again
        alloc = Allocation(
            rec.ip, self.subnet.cidr.prefixlen, self.subnet.gateway, 0, self.subnet.name, who.owner
        )
        try:
            self.client.bind_pod(NS, meta["name"], meta["uid"], self.node, {KEY: alloc.encode()})
        except KubeError:
            with contextlib.suppress(StoreError):
                self.store.release(self.subnet.name, rec.ip, who.owner, meta["uid"], self.clock())

    def _start(self, pod: Obj) -> None:
        meta = pod["metadata"]
        alloc = (meta.get("annotations") or {}).get(KEY)
        status: Obj = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        if alloc:
            a = parse(alloc)
            with contextlib.suppress(StoreError):
                rec = self.store.get(a.subnet, a.ip)
                if rec is not None and rec.pod_uid == meta["uid"] and rec.state is not IPState.BOUND:
                    self.store.bind(a.subnet, a.ip, meta["uid"], self.node, self.clock())
            status |= {"podIP": str(a.ip), "podIPs": [{"ip": str(a.ip)}]}
        self.client.patch(PODS, meta["name"], {"status": status}, NS, sub="status")


def live_pod_ips(client: KubeClient) -> dict[str, str]:
    """pod name -> annotated IP of every pod not being deleted and not finished."""
    out = {}
    for pod in client.list(PODS, NS).get("items") or []:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        text = (meta.get("annotations") or {}).get(KEY)
        if text:
            out[meta["name"]] = str(parse(text).ip)
    return out


class Lab:
    """The lab API server, the lab's workload controllers, a store and the `Fabric`, together.

    `store_url` names the store (`memory://` by default); `kubeconfig` is written for processes
    (fipctl check, fip-controllers) that need one."""

    def __init__(
        self,
        tmp: Path,
        store: Store,
        subnet: Subnet,
        *,
        workloads: bool = True,
        subnet_resource: bool = False,
    ) -> None:
        self.tmp = tmp
        self.store = store
        self.subnet = subnet
        self.workloads = workloads
        self.subnet_resource = subnet_resource
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Lab:
        from lab.apiserver import APIServer
        from lab.workloads.manager import Manager

        try:
            self.api = self._stack.enter_context(APIServer(host="127.0.0.1", port=0))
            self.kubeconfig = str(self.tmp / "kubeconfig")
            self.api.write_kubeconfig(self.kubeconfig)
            self.client = KubeClient.for_server(self.api.url)
            self._stack.callback(self.client.close)
            if self.subnet_resource:  # fip-controllers puts it into the store
                self.client.create(SUBNETS, subnet_to_resource(self.subnet))
            else:
                self.store.put_subnet(self.subnet)
            if self.workloads:
                self.manager = Manager(KubeClient.for_server(self.api.url), resync=2.0, max_retry_delay=1.0)
                self.manager.start()
                self._stack.callback(self.manager.stop)
            self.fabric = self._stack.enter_context(Fabric(self.client, self.store, self.subnet))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def controllers(lab: Lab, *, identity: str = "c1", period: float = 1.0, grace: float = 1.0) -> Any:
    """fip-controllers in this process, quick settings; stopped with `.stop()`."""
    from controllers.manager import Controllers

    ctl = Controllers(
        KubeClient.for_server(lab.api.url),
        lab.store,
        namespace="kube-system",
        identity=identity,
        period=period,
        grace=grace,
        lease_duration=3.0,
        renew_deadline=2.0,
        retry_period=0.5,
        watch_period=0.2,
    )
    return ctl.start()
