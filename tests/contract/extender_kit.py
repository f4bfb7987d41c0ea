"""An extender app over a memory store and a fake Kubernetes side, for the wire contract tests."""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from scheduler_extender import create_app
from scheduler_extender.nodeindex import ClusterView

from fip.core.subnet import IPRange, NodeSelection, Pool, Subnet
from fip.kube.errors import Conflict, KubeError
from fip.store.memory import MemoryStore

Obj = dict[str, Any]


def subnet(name: str, third: int, *, size: int = 190, reserved: tuple[int, ...] = ()) -> Subnet:
    net = ipaddress.ip_network(f"10.0.{third}.0/24")
    return Subnet(
        name=name,
        cidr=net,
        gateway=net[1],
        vlan=third,
        ranges=(IPRange(net[10], net[10 + size - 1]),),
        reserved=frozenset(net[i] for i in reserved),
        nodes=NodeSelection(match_labels=(("fip.io/l2", name),)),
    )


@dataclass
class FakeKube:
    """Pods by namespace/name; bind_pod as the API server does it (UID precondition, 409)."""

    pods: dict[str, Obj] = field(default_factory=dict)
    bindings: list[tuple[str, str, str, str, dict[str, str]]] = field(default_factory=list)
    refuse: KubeError | None = None

    def add(self, pod: Obj) -> Obj:
        meta = pod["metadata"]
        self.pods[f"{meta['namespace']}/{meta['name']}"] = pod
        return pod

    def get_pod(self, namespace: str, name: str) -> Obj | None:
        pod = self.pods.get(f"{namespace}/{name}")
        return copy.deepcopy(pod) if pod is not None else None

    def bind_pod(self, namespace: str, name: str, uid: str, node: str, annotations: dict[str, str]) -> None:
        if self.refuse is not None:
            raise self.refuse
        pod = self.pods.get(f"{namespace}/{name}")
        if pod is None or pod["metadata"]["uid"] != uid:
            raise Conflict(
                409, f'Operation cannot be fulfilled on pods/binding "{name}": precondition failed'
            )
        if pod.setdefault("spec", {}).get("nodeName"):
            raise Conflict(409, f"pod {name} is already assigned to node {pod['spec']['nodeName']}")
        pod["spec"]["nodeName"] = node
        pod["metadata"].setdefault("annotations", {}).update(annotations)
        self.bindings.append((namespace, name, uid, node, dict(annotations)))


def pod(
    name: str,
    *,
    uid: str = "",
    ns: str = "default",
    owner: tuple[str, str, str] | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    fip: bool = True,
) -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "uid": uid or f"uid-{name}", "annotations": annotations or {}}
    if labels:
        meta["labels"] = labels
    if owner is not None:
        api, kind, oname = owner
        meta["ownerReferences"] = [
            {"apiVersion": api, "kind": kind, "name": oname, "uid": "o", "controller": True}
        ]
    resources: Obj = {"requests": {"cpu": "100m"}}
    if fip:
        resources["limits"] = {"fip.io/ip": "1"}
        resources["requests"]["fip.io/ip"] = "1"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "image": "x", "resources": resources}]},
    }


def node(name: str, l2: str | None) -> Obj:
    labels = {"kubernetes.io/hostname": name}
    if l2:
        labels["fip.io/l2"] = l2
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.1"}]},
    }


@dataclass
class World:
    store: MemoryStore
    kube: FakeKube
    view: ClusterView
    app: Flask
    client: FlaskClient

    def post(self, verb: str, body: object | bytes, **kw: Any) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else None
        resp = self.client.post(f"/fip/{verb}", data=data, json=None if data is not None else body, **kw)
        return resp.status_code, resp.get_json(silent=True)


def world(
    nodes_per_subnet: int = 2, *, faults: list[str] | None = None, max_body: int = 32 * 1024 * 1024
) -> World:
    store = MemoryStore()
    store.initialise()
    for s in (subnet("dc1-a", 1, reserved=(150,)), subnet("dc1-b", 2), subnet("dc1-c", 3, size=2)):
        store.put_subnet(s)
    store.put_pool(Pool("shared", "dc1-b", 3, frozenset({"default"})))
    view = ClusterView(store)
    view.refresh()
    for name in ("dc1-a", "dc1-b", "dc1-c"):
        for i in range(nodes_per_subnet):
            view.put_node(node(f"{name}-n{i}", name))
    view.put_node(node("lonely", None))
    kube = FakeKube()

    def fault(step: str) -> None:
        if faults and step in faults:
            raise KubeError(0, f"injected fault at {step}")

    app = create_app(view, kube.get_pod, kube, fault=fault, max_body=max_body, clock=lambda: 1000.0)
    return World(store, kube, view, app, app.test_client())


NAMES = [*(f"{s}-n{i}" for s in ("dc1-a", "dc1-b", "dc1-c") for i in range(2)), "lonely"]
