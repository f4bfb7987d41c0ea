"""The demo's control plane: the lab API server, scheduler and workload controllers, in process.

`control_plane()` starts the fake kube-apiserver on a free loopback port, the lab scheduler and
the lab workload controllers as threads talking to it over HTTP (as `fip-lab scheduler` and
`fip-lab workloads` would), and stops all three on exit, also after an exception or Ctrl-C.
`story()` then plays step 2 of the demo: Subnet CRs from examples/subnets.yaml, two nodes of
subnet dc1-a, a Deployment and a StatefulSet scheduled onto them, and a scale-down.

There is no scheduler extender yet, so the lab scheduler binds with its default binder and no
pod gets a `fip.io/allocation` annotation here; without the extender's `managedResources`
(ignoredByScheduler) the scheduler counts `fip.io/ip` like any extended resource, so the demo's
nodes advertise some. There is no kubelet stand-in either: pods stay Pending, and the demo
confirms graceful deletions itself, as a kubelet does once the sandbox is gone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fip.kube.client import KubeClient
from fip.kube.resources import DEPLOYMENTS, NODES, PODS, STATEFULSETS, Resource
from lab.apiserver import APIServer
from lab.demo_console import DemoCheckFailed, check, checkpoint, note, say, table
from lab.scheduler.config import SchedulerConfig
from lab.scheduler.scheduler import Scheduler
from lab.workloads.manager import Manager

NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
SUBNETS = Resource("fip.io", "v1", "subnets", "Subnet", namespaced=False)
POOLS = Resource("fip.io", "v1", "pools", "Pool", namespaced=False)
NS = "shop"
# node name -> InternalIP on the node network (192.168.11.0/24, gateway .1 in the lab network)
NODE_IPS = {"node-a": "192.168.11.11", "node-b": "192.168.11.12"}
L2_LABEL = {"fip.io/l2": "dc1-a"}
T = TypeVar("T")
Obj = dict[str, Any]


@dataclass
class Cluster:
    api: APIServer
    client: KubeClient

    def pods(self) -> list[Obj]:
        return list(self.client.list(PODS, NS).get("items") or [])

    def pod(self, name: str) -> Obj:
        return self.client.get(PODS, name, NS)


@contextmanager
def control_plane() -> Iterator[Cluster]:
    for name in ("lab", "lab.scheduler", "lab.workloads", "fip.kube"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # their retries are not the story
    api = APIServer(host="127.0.0.1", port=0).start()
    scheduler: Scheduler | None = None
    manager: Manager | None = None
    try:
        client = KubeClient.for_server(api.url)
        scheduler = Scheduler(client, SchedulerConfig(), seed=7)
        scheduler.start()
        manager = Manager(client, resync=5.0, max_retry_delay=1.0)
        manager.start()
        yield Cluster(api, client)
    finally:
        if manager is not None:
            manager.stop()
        if scheduler is not None:
            scheduler.stop()
        api.stop()


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checkpoint()
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise DemoCheckFailed(f"{what} did not happen within {timeout:g} s")


def load_examples(cluster: Cluster, examples: Path) -> None:
    for doc in yaml.safe_load_all(examples.read_text()):
        if isinstance(doc, dict) and doc.get("kind") in ("Subnet", "Pool"):
            cluster.client.create(SUBNETS if doc["kind"] == "Subnet" else POOLS, doc)
    rows = []
    for sub in cluster.client.list(SUBNETS).get("items") or []:
        spec = sub["spec"]
        sel = (spec.get("nodeSelector") or {}).get("matchLabels") or {}
        nodes = ",".join(f"{k}={v}" for k, v in sel.items()) or "InternalIP in " + ",".join(spec["nodeCIDRs"])
        rows.append((sub["metadata"]["name"], spec["cidr"], spec.get("vlan", 0), nodes))
    table(("SUBNET", "CIDR", "VLAN", "NODES"), rows)


def add_nodes(cluster: Cluster) -> None:
    for name, ip in NODE_IPS.items():
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **L2_LABEL}},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": ip}],
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "fip.io/ip": "64"},
            },
        }
        cluster.client.create(NODES, node)
    table(("NODE", "LABELS", "INTERNAL-IP"), [(n, "fip.io/l2=dc1-a", ip) for n, ip in NODE_IPS.items()])


def _template(app: str, policy: str) -> Obj:
    resources = {"requests": {"cpu": "100m"}, "limits": {"fip.io/ip": "1"}}
    return {
        "metadata": {"labels": {"app": app}, "annotations": {"fip.io/release-policy": policy}},
        "spec": {"containers": [{"name": app, "image": f"{app}:1", "resources": resources}]},
    }


def pod_rows(cluster: Cluster) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for pod in cluster.pods():
        meta, spec = pod["metadata"], pod.get("spec") or {}
        owner: Obj = next(iter(meta.get("ownerReferences") or []), {})
        state = "Terminating" if meta.get("deletionTimestamp") else (pod.get("status") or {}).get("phase", "")
        alloc = (meta.get("annotations") or {}).get("fip.io/allocation", "-")
        rows.append(
            (meta["name"], f"{owner.get('kind', '')}/{owner.get('name', '')}", spec.get("nodeName") or "-",
             state, alloc)
        )  # fmt: skip
    return rows


def _bound(cluster: Cluster, count: int) -> list[Obj] | None:
    pods = cluster.pods()
    bound = [p for p in pods if (p.get("spec") or {}).get("nodeName")]
    return bound if len(pods) == count and len(bound) == count else None


def story(cluster: Cluster, examples: Path) -> None:
    say(f"Control plane: the lab kube-apiserver at {cluster.api.url}, lab scheduler and controllers.")
    note("The Subnet and Pool CRs from the same examples/subnets.yaml (kubectl apply would do this):")
    load_examples(cluster, examples)
    note("Two nodes in subnet dc1-a's L2 domain:")
    add_nodes(cluster)
    cluster.client.create(NAMESPACES, {"metadata": {"name": NS}})

    say("Deployment api (3 replicas) and StatefulSet web (2, policy immutable) ask for fip.io/ip: 1:")
    deploy = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": NS},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}},
                 "template": _template("api", "pod")},
    }  # fmt: skip
    sts = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": NS},
        "spec": {"replicas": 2, "serviceName": "web", "podManagementPolicy": "Parallel",
                 "selector": {"matchLabels": {"app": "web"}}, "template": _template("web", "immutable")},
    }  # fmt: skip
    cluster.client.create(DEPLOYMENTS, deploy, NS)
    cluster.client.create(STATEFULSETS, sts, NS)
    bound = wait_for("5 pods created and bound to nodes", lambda: _bound(cluster, 5))
    note("The controllers made the pods, the scheduler bound them (IP annotation: none, no extender yet):")
    table(("POD", "OWNER", "NODE", "PHASE", "fip.io/allocation"), pod_rows(cluster))
    check({p["spec"]["nodeName"] for p in bound} == set(NODE_IPS), "pods spread over both nodes")

    say("Scale StatefulSet web down to 1: the controller deletes the highest ordinal, web-1:")
    cluster.client.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, NS)
    gone = wait_for(
        "web-1 terminating",
        lambda: next((p for p in cluster.pods() if p["metadata"].get("deletionTimestamp")), None),
    )
    table(("POD", "OWNER", "NODE", "PHASE", "fip.io/allocation"), pod_rows(cluster))
    check(gone["metadata"]["name"] == "web-1", "the pod going is web-1 (web-0 stays)")
    note("(no kubelet stand-in yet: the demo confirms the deletion, as a kubelet does after CNI DEL)")
    cluster.client.delete(PODS, "web-1", NS, uid=gone["metadata"]["uid"], grace_period=0)
    names = wait_for("web-1 gone", lambda: _names_without(cluster, "web-1"))
    check([n for n in names if n.startswith("web-")] == ["web-0"], "StatefulSet web now has one pod: web-0")


def _names_without(cluster: Cluster, name: str) -> list[str] | None:
    names = sorted(p["metadata"]["name"] for p in cluster.pods())
    return names if name not in names else None
