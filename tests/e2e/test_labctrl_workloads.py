"""The lab's workload controllers against the lab API server: Deployment/ReplicaSet,
StatefulSet, TApp and EndpointSlice behave as kube-controller-manager (and tkestack/tapp) do.

A tiny kubelet stand-in written here marks pods Running and Ready with an IP and confirms
graceful deletions, so rollouts that wait for readiness can progress; tests switch it off to
see what happens while pods are not ready."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.informer import Informer
from fip.kube.resources import DEPLOYMENTS, ENDPOINTSLICES, PODS, REPLICASETS, SERVICES, STATEFULSETS, TAPPS
from lab.apiserver import APIServer
from lab.wait import wait_for
from lab.workloads.manager import Manager

pytestmark = pytest.mark.e2e
NS = "default"


class FakeKubelet:
    """Every 50 ms: pods not yet running become Running + Ready with a fresh IP (when `enabled`);
    terminating pods are confirmed gone (DELETE with grace 0)."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.enabled = True
        self._ips = (f"10.0.{i // 250}.{i % 250 + 2}" for i in itertools.count())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self._sync()
            except KubeError:
                continue

    def _sync(self) -> None:
        for pod in self.client.list(PODS, NS).get("items") or []:
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                self.client.delete(PODS, meta["name"], NS, uid=meta["uid"], grace_period=0)
            elif self.enabled and (pod.get("status") or {}).get("phase") != "Running":
                ip = next(self._ips)
                status = {
                    "phase": "Running",
                    "podIP": ip,
                    "podIPs": [{"ip": ip}],
                    "conditions": [{"type": "Ready", "status": "True"}],
                }
                self.client.patch(PODS, meta["name"], {"status": status}, NS, sub="status")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def client() -> Iterator[KubeClient]:
    with APIServer(host="127.0.0.1", port=0) as api:
        yield KubeClient.for_server(api.url)


@pytest.fixture
def kubelet(client: KubeClient) -> Iterator[FakeKubelet]:
    k = FakeKubelet(client)
    yield k
    k.stop()


@pytest.fixture
def manager(client: KubeClient) -> Iterator[Manager]:
    m = Manager(client, resync=2.0, max_retry_delay=1.0)
    m.start()
    yield m
    m.stop()


def pods(client: KubeClient, selector: str = "") -> list[dict[str, Any]]:
    items = client.list(PODS, NS, label_selector=selector).get("items") or []
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def names(client: KubeClient, selector: str = "") -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods(client, selector))


def template(image: str = "web:1", app: str = "web") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "containers": [
                {"name": "web", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}
            ]
        },
    }


def workload(
    kind: str, name: str, replicas: int, image: str = "web:1", api_version: str = "apps/v1", **spec: Any
) -> dict[str, Any]:
    """A Deployment / StatefulSet / TApp manifest whose pods carry `app: <name>` and run `image`;
    `spec` adds the fields a test is about (strategy, ordinals, podManagementPolicy, ...)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template(image, app=name),
            **spec,
        },
    }


def pod_images(client: KubeClient, selector: str) -> list[str]:
    """The first container's image of every live pod, sorted."""
    return sorted(p["spec"]["containers"][0]["image"] for p in pods(client, selector))


@contextlib.contextmanager
def deletions(client: KubeClient, selector: str) -> Iterator[list[str]]:
    """Names of the pods deleted while the block runs, in the order the watch delivered them."""
    deleted: list[str] = []
    watcher = Informer(client, PODS, NS, label_selector=selector)

    def record(kind: str, pod: dict[str, Any], _old: dict[str, Any] | None) -> None:
        if kind == "DELETED":
            deleted.append(pod["metadata"]["name"])

    watcher.add_handler(record)
    watcher.start()
    try:
        watcher.synced.wait(5)
        yield deleted
    finally:
        watcher.stop()


def scale(client: KubeClient, res: Any, name: str, replicas: int) -> None:
    client.patch(res, name, {"spec": {"replicas": replicas}}, NS)


def test_deployment_scales_and_rolls_its_template(
    client: KubeClient, kubelet: FakeKubelet, manager: Manager
) -> None:
    client.create(DEPLOYMENTS, workload("Deployment", "web", 3))
    wait_for(lambda: len(pods(client, "app=web")) == 3)
    (rs,) = client.list(REPLICASETS, NS)["items"]
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    for p in pods(client, "app=web"):
        assert p["metadata"]["name"].startswith(f"web-{pod_hash}-")
        assert p["metadata"]["labels"]["pod-template-hash"] == pod_hash
        assert p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]

    scale(client, DEPLOYMENTS, "web", 5)
    wait_for(lambda: len(pods(client, "app=web")) == 5)
    scale(client, DEPLOYMENTS, "web", 2)
    wait_for(lambda: len(client.list(PODS, NS)["items"]) == 2)

    client.patch(DEPLOYMENTS, "web", {"spec": {"template": template("web:2")}}, NS)

    wait_for(lambda: pod_images(client, "app=web") == ["web:2", "web:2"])
    sets = {r["metadata"]["name"]: r for r in client.list(REPLICASETS, NS)["items"]}
    assert len(sets) == 2 and sets[rs["metadata"]["name"]]["spec"]["replicas"] == 0
    new = next(r for n, r in sets.items() if n != rs["metadata"]["name"])
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    status = wait_for(
        lambda: (s := client.get(DEPLOYMENTS, "web", NS).get("status")) and s.get("readyReplicas") == 2 and s
    )
    assert (status["updatedReplicas"], status["replicas"], status["availableReplicas"]) == (2, 2, 2)


def test_rolling_update_keeps_old_pods_until_new_ones_are_ready(
    client: KubeClient, kubelet: FakeKubelet, manager: Manager
) -> None:
    client.create(DEPLOYMENTS, workload("Deployment", "api", 4))
    wait_for(
        lambda: (
            len([p for p in pods(client, "app=api") if p.get("status", {}).get("phase") == "Running"]) == 4
        )
    )
    wait_for(lambda: (client.get(DEPLOYMENTS, "api", NS).get("status") or {}).get("availableReplicas") == 4)
    kubelet.enabled = False
    client.patch(DEPLOYMENTS, "api", {"spec": {"template": template("api:2", app="api")}}, NS)
    time.sleep(1.5)
    live = pods(client, "app=api")
    old = [p for p in live if p["spec"]["containers"][0]["image"] == "web:1"]
    assert len(old) >= 3  # maxUnavailable 25% of 4 = 1
    assert len(live) <= 5  # maxSurge 25% of 4 = 1
    kubelet.enabled = True
    wait_for(lambda: set(pod_images(client, "app=api")) == {"api:2"})


def test_statefulset_ordinals_recreate_and_scale_down_order(
    client: KubeClient, kubelet: FakeKubelet, manager: Manager
) -> None:
    kubelet.enabled = False
    client.create(STATEFULSETS, workload("StatefulSet", "db", 3, "db:1", serviceName="db"))
    wait_for(lambda: names(client, "app=db") == ["db-0"])
    time.sleep(0.5)
    assert names(client, "app=db") == ["db-0"]  # OrderedReady: db-1 waits for db-0 to be Ready
    kubelet.enabled = True
    wait_for(lambda: names(client, "app=db") == ["db-0", "db-1", "db-2"])
    db1 = client.get(PODS, "db-1", NS)
    labels = db1["metadata"]["labels"]
    assert (
        labels["statefulset.kubernetes.io/pod-name"] == "db-1"
        and labels["apps.kubernetes.io/pod-index"] == "1"
    )
    assert labels["controller-revision-hash"].startswith("db-")
    assert db1["spec"]["hostname"] == "db-1" and db1["spec"]["subdomain"] == "db"
    assert db1["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"

    client.delete(PODS, "db-1", NS)
    again = wait_for(
        lambda: next(
            (
                p
                for p in pods(client, "app=db")
                if p["metadata"]["name"] == "db-1" and p["metadata"]["uid"] != db1["metadata"]["uid"]
            ),
            None,
        )
    )
    assert again["metadata"]["name"] == "db-1"

    with deletions(client, "app=db") as deleted:
        scale(client, STATEFULSETS, "db", 1)
        wait_for(lambda: names(client, "app=db") == ["db-0"])
        wait_for(lambda: len(deleted) == 2)
    assert deleted == ["db-2", "db-1"]


def test_statefulset_parallel_creates_all_at_once(
    client: KubeClient, kubelet: FakeKubelet, manager: Manager
) -> None:
    kubelet.enabled = False
    sts = workload("StatefulSet", "cache", 3, podManagementPolicy="Parallel", ordinals={"start": 5})
    client.create(STATEFULSETS, sts)
    wait_for(lambda: names(client, "app=cache") == ["cache-5", "cache-6", "cache-7"])


def test_tapp_instances_labels_killed_and_recreate(
    client: KubeClient, kubelet: FakeKubelet, manager: Manager
) -> None:
    client.create(TAPPS, workload("TApp", "t", 3, api_version="apps.tkestack.io/v1"))
    wait_for(lambda: names(client, "app=t") == ["t-0", "t-1", "t-2"])
    t1 = client.get(PODS, "t-1", NS)
    assert t1["metadata"]["labels"]["tapp_instance_key"] == "1"
    assert {"tapp_template_hash_key", "tapp_uniq_hash_key"} <= set(t1["metadata"]["labels"])
    ref = t1["metadata"]["ownerReferences"][0]
    assert (ref["apiVersion"], ref["kind"], ref["controller"]) == ("apps.tkestack.io/v1", "TApp", True)
    assert "blockOwnerDeletion" not in ref

    client.patch(TAPPS, "t", {"spec": {"statuses": {"1": "Killed"}}}, NS)
    wait_for(lambda: names(client, "app=t") == ["t-0", "t-2"])
    statuses = wait_for(
        lambda: (client.get(TAPPS, "t", NS).get("status") or {}).get("statuses", {}).get("1") == "Killed"
    )
    assert statuses
    time.sleep(0.5)
    assert names(client, "app=t") == ["t-0", "t-2"]  # a killed instance stays away

    scale(client, TAPPS, "t", 2)
    wait_for(lambda: names(client, "app=t") == ["t-0"])

    t0 = client.get(PODS, "t-0", NS)
    client.delete(PODS, "t-0", NS)
    wait_for(
        lambda: [p["metadata"]["uid"] for p in pods(client, "app=t")] not in ([], [t0["metadata"]["uid"]])
    )
    t0_new = client.get(PODS, "t-0", NS)
    assert t0_new["metadata"]["uid"] != t0["metadata"]["uid"]

    client.patch(TAPPS, "t", {"spec": {"template": template("web:2", app="t")}}, NS)
    wait_for(lambda: client.get(PODS, "t-0", NS)["spec"]["containers"][0]["image"] == "web:2")
    assert client.get(PODS, "t-0", NS)["metadata"]["uid"] == t0_new["metadata"]["uid"]  # image-only: in place


def test_endpointslices_follow_ready_pods(client: KubeClient, kubelet: FakeKubelet, manager: Manager) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    client.create(SERVICES, svc)
    client.create(DEPLOYMENTS, workload("Deployment", "web", 2))

    def ready_ips() -> set[str]:
        slices = client.list(ENDPOINTSLICES, NS, label_selector="kubernetes.io/service-name=web")["items"]
        return {
            e["addresses"][0] for s in slices for e in s.get("endpoints") or [] if e["conditions"]["ready"]
        }

    def pod_ips() -> set[str]:
        return {p["status"]["podIP"] for p in pods(client, "app=web") if (p.get("status") or {}).get("podIP")}

    wait_for(lambda: len(pod_ips()) == 2 and ready_ips() == pod_ips())
    (eps,) = client.list(ENDPOINTSLICES, NS)["items"]
    assert eps["addressType"] == "IPv4"
    assert eps["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]
    assert (
        eps["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
        == "endpointslice-controller.k8s.io"
    )
    assert eps["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert {e["targetRef"]["kind"] for e in eps["endpoints"]} == {"Pod"}

    sick = pods(client, "app=web")[0]
    not_ready = {"conditions": [{"type": "Ready", "status": "False"}]}
    client.patch(PODS, sick["metadata"]["name"], {"status": not_ready}, NS, sub="status")
    wait_for(lambda: ready_ips() == pod_ips() - {sick["status"]["podIP"]})
    (eps,) = client.list(ENDPOINTSLICES, NS)["items"]
    listed = {e["addresses"][0]: e["conditions"] for e in eps["endpoints"]}
    assert listed[sick["status"]["podIP"]] == {"ready": False, "serving": False, "terminating": False}

    scale(client, DEPLOYMENTS, "web", 1)
    wait_for(lambda: len(pod_ips()) == 1 and ready_ips() == pod_ips())

    client.delete(SERVICES, "web", NS)
    wait_for(lambda: client.list(ENDPOINTSLICES, NS)["items"] == [])


def test_recreate_deployment_removes_old_pods_before_new_ones(
    client: KubeClient, kubelet: FakeKubelet, manager: Manager
) -> None:
    client.create(DEPLOYMENTS, workload("Deployment", "job", 2, "job:1", strategy={"type": "Recreate"}))
    wait_for(lambda: len(pods(client, "app=job")) == 2)
    images: list[set[str]] = []
    watcher = Informer(client, PODS, NS, label_selector="app=job")
    watcher.add_handler(
        lambda _k, _p, _o: images.append({p["spec"]["containers"][0]["image"] for p in watcher.items()})
    )
    watcher.start()
    try:
        watcher.synced.wait(5)
        client.patch(DEPLOYMENTS, "job", {"spec": {"template": template("job:2", app="job")}}, NS)
        wait_for(lambda: set(pod_images(client, "app=job")) == {"job:2"})
        wait_for(lambda: len(pods(client, "app=job")) == 2)
    finally:
        watcher.stop()
    assert {"job:1", "job:2"} not in images  # never both at once


def test_statefulset_template_change_replaces_pods_highest_ordinal_first(
    client: KubeClient, kubelet: FakeKubelet, manager: Manager
) -> None:
    client.create(STATEFULSETS, workload("StatefulSet", "kv", 3, "kv:1"))
    wait_for(lambda: len([p for p in pods(client, "app=kv") if p["status"].get("phase") == "Running"]) == 3)
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods(client, "app=kv")}
    with deletions(client, "app=kv") as deleted:
        client.patch(STATEFULSETS, "kv", {"spec": {"template": template("kv:2", app="kv")}}, NS)
        wait_for(lambda: pod_images(client, "app=kv") == ["kv:2"] * 3, timeout=15)
    assert deleted == ["kv-2", "kv-1", "kv-0"]
    after = {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods(client, "app=kv")}
    assert set(after) == set(before) and not set(after.values()) & set(before.values())
