"""fip.kube.client and fipd's pod cache (the fip.kube informer) against the lab's API server over
real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fip.kube.client import KubeClient
from fip.kube.errors import KubeUnavailable, NotFound
from fip.kube.resources import SUBNETS
from fipd.podcache import NodePodCache
from lab.apiserver import APIServer
from lab.wait import wait_for


@pytest.fixture
def api() -> Iterator[APIServer]:
    with APIServer(port=0, bookmark_interval=0.2) as server:
        server.storage.create("nodes", {"metadata": {"name": "n1", "labels": {"fip.io/l2": "a"}}})
        yield server


@pytest.fixture
def kube(api: APIServer, tmp_path: Path) -> Iterator[KubeClient]:
    client = KubeClient(str(api.write_kubeconfig(tmp_path / "kubeconfig")), timeout=5)
    yield client
    client.close()


def make_pod(api: APIServer, name: str, node: str = "n1") -> str:
    spec = {"nodeName": node, "containers": [{"name": "c", "image": "pause"}]}
    pod = api.storage.create("pods", {"metadata": {"name": name, "namespace": "default"}, "spec": spec})
    return str(pod["metadata"]["uid"])


def test_reads(api: APIServer, kube: KubeClient) -> None:
    uid = make_pod(api, "a")
    make_pod(api, "b", node="n2")
    assert kube.get_pod("default", "a")["metadata"]["uid"] == uid
    with pytest.raises(
        NotFound, match=r"GET /api/v1/namespaces/default/pods/zzz: 404 NotFound: pods \"zzz\" not found"
    ):
        kube.get_pod("default", "zzz")
    names = [p["metadata"]["name"] for p in kube.list_pods(node="n1")["items"]]
    assert names == ["a"]
    assert kube.get_node("n1")["metadata"]["labels"] == {"fip.io/l2": "a"}
    spec = {"cidr": "10.0.1.0/24", "gateway": "10.0.1.1", "nodeSelector": {"matchLabels": {"fip.io/l2": "a"}}}
    api.storage.create(
        "subnets", {"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": "s"}, "spec": spec}
    )
    assert [s["metadata"]["name"] for s in kube.list(SUBNETS)["items"]] == ["s"]


def test_unreachable_server_is_unavailable(tmp_path: Path) -> None:
    with APIServer(port=0) as server:
        path = server.write_kubeconfig(tmp_path / "kubeconfig")
    client = KubeClient(str(path), timeout=1)
    with pytest.raises(KubeUnavailable, match="no answer"):
        client.get_pod("default", "a")


def test_bad_kubeconfig_says_so(tmp_path: Path) -> None:
    with pytest.raises(KubeUnavailable, match="cannot load Kubernetes configuration"):
        KubeClient(str(tmp_path / "missing"))


def test_pod_cache_follows_the_node_and_relists_after_expiry(api: APIServer, kube: KubeClient) -> None:
    make_pod(api, "early")
    cache = NodePodCache(kube, "n1")
    cache.start()
    try:
        wait_for(lambda: cache.get("default", "early") is not None)
        make_pod(api, "late")
        make_pod(api, "elsewhere", node="n2")
        wait_for(lambda: cache.get("default", "late") is not None)
        assert cache.get("default", "elsewhere") is None
        api.storage.delete("pods", "early", "default", grace_period=0)
        wait_for(lambda: cache.get("default", "early") is None)
        api.control.compact()
        api.control.drop_watches()
        make_pod(api, "after-410")
        wait_for(lambda: cache.get("default", "after-410") is not None)
    finally:
        cache.stop()
