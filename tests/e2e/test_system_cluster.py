"""The e2e flows against a real cluster with fip installed (`kubectl apply -k deploy/`):

    pytest tests/e2e/test_system_cluster.py --kubeconfig ~/.kube/config [--redis-url URL]

Without `--kubeconfig` these tests skip (and in CI they are not collected at all: CI has no
cluster, and skipped is not passed there). Everything happens in a fresh namespace that is
deleted at the end. Checked, from outside through the standard API: pods that ask for
`fip.io/ip` get an IP of a Subnet and an allocation annotation that names it; no two live pods
share an IP (by UID); a StatefulSet's pods come back on their IPs on every reschedule; a
scale-down frees the IPs (with `--redis-url`: `fipctl ips` and `fipctl check` against the store).
What the lab checks on top (plugged on the node, reachable from a legacy host) needs access to
the nodes and is not done here.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from fip.kube.client import KubeClient
from fip.kube.errors import NotFound
from fip.kube.resources import NAMESPACES, PODS, STATEFULSETS
from lab.cluster import invariants
from lab.wait import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.real_cluster]
Obj = dict[str, Any]


class Cluster:
    def __init__(self, kubeconfig: str, redis_url: str | None) -> None:
        self.kubeconfig = kubeconfig
        self.client = KubeClient(kubeconfig, timeout=30.0)
        self.redis_url = redis_url
        self.ns = f"fip-e2e-{secrets.token_hex(3)}"

    def running(self, selector: str, count: int, timeout: float = 180) -> list[Obj]:
        def ready() -> list[Obj] | None:
            pods = self.client.list(PODS, self.ns, label_selector=selector).get("items") or []
            pods = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            ok = len(pods) == count and all(invariants.running(p) and p["status"].get("podIP") for p in pods)
            return sorted(pods, key=lambda p: p["metadata"]["name"]) if ok else None

        return wait_for(ready, timeout, f"{count} pods {selector} Running")

    def unique_ips(self) -> None:
        pods = self.client.list(PODS).get("items") or []
        assert invariants.unique_ips(pods) == []


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    kubeconfig = request.config.getoption("--kubeconfig")
    if not kubeconfig:
        pytest.skip("no --kubeconfig: these tests run against a real cluster only")
    c = Cluster(str(kubeconfig), request.config.getoption("--redis-url"))
    c.client.create(NAMESPACES, {"metadata": {"name": c.ns}})
    try:
        yield c
    finally:
        c.client.delete(NAMESPACES, c.ns)


def statefulset(name: str, replicas: int) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": "Parallel",
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name},
                                           "annotations": {"fip.io/release-policy": "immutable"}},
                              "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                                       "resources": {"limits": {"fip.io/ip": "1"}}}]}}},
    }  # fmt: skip


def test_statefulset_pods_get_ips_and_keep_them_through_reschedules(cluster: Cluster) -> None:
    cluster.client.create(STATEFULSETS, statefulset("sticky", 3), cluster.ns)
    pods = cluster.running("app=sticky", 3)
    before = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}
    for p in pods:
        alloc = invariants.allocation(p)
        assert alloc is not None and alloc["ip"] == p["status"]["podIP"], p["metadata"]["name"]
    cluster.unique_ips()
    for name in sorted(before):
        cluster.client.delete(PODS, name, cluster.ns)
        again = {p["metadata"]["name"]: p["status"]["podIP"] for p in cluster.running("app=sticky", 3)}
        assert again[name] == before[name], f"{name} came back on another IP"
        cluster.unique_ips()


def test_scale_down_frees_the_ips(cluster: Cluster) -> None:
    before = {p["metadata"]["name"]: p["status"]["podIP"] for p in cluster.running("app=sticky", 3)}
    cluster.client.patch(STATEFULSETS, "sticky", {"spec": {"replicas": 1}}, cluster.ns)
    cluster.running("app=sticky", 1)
    if cluster.redis_url is None:
        return  # the store is not reachable from here: the release itself is not observable
    freed = {before["sticky-1"], before["sticky-2"]}
    url = cluster.redis_url
    wait_for(lambda: not freed & {a.get("ip") for a in invariants.allocations(url)}, 120, "the IPs freed")
    code, out = invariants.fipctl_check_with(url, cluster.kubeconfig)
    assert code == 0, out


def test_no_pod_of_the_namespace_is_left_after_deletion(cluster: Cluster) -> None:
    cluster.client.delete(STATEFULSETS, "sticky", cluster.ns)

    def gone() -> bool:
        try:
            return not cluster.client.list(PODS, cluster.ns).get("items")
        except NotFound:
            return True

    wait_for(gone, 180, "the namespace's pods gone")
    assert json.dumps(invariants.unique_ips(cluster.client.list(PODS).get("items") or [])) == "[]"
