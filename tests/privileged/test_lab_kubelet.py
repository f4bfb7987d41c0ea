"""The kubelet stand-in against the lab API server, a real fipd and the installed fip-cni.

One lab domain with one bridge-mode node and a legacy host; the pods are bound by the test with
the allocation annotation the extender's bind writes (the extender is not part of this test).
Checked: CNI ADD as containerd runs it, the pod's container answering its identity from the
legacy host, status (Running, Ready, podIP) through the status subresource, CNI DEL and the
graceful-deletion confirmation, a failing ADD reported and retried, pods without fip.io/ip, and
a kubelet restart taking its sandboxes over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge import netlink
from fip.kube.client import KubeClient
from fip.kube.errors import NotFound
from fip.kube.resources import EVENTS, PODS, SUBNETS
from lab.apiserver import APIServer
from lab.cluster import config, topology
from lab.kubelet.cni import Runtime
from lab.kubelet.container import http_get
from lab.kubelet.kubelet import Kubelet
from lab.kubelet.sandboxes import Store, netns_name
from lab.kubelet.status import node_object
from lab.network import unique_prefix
from lab.wait import wait_for

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
        reason="needs root (network namespaces)",
    ),
]
BIN = Path(sys.executable).parent
CFG = {
    "domains": {
        "k": {
            "nodes": ["k1"],
            "subnets": [{"name": "sk", "cidr": "10.41.0.0/24", "legacy": {"address": "10.41.0.250"}}],
        }
    }
}


@dataclass
class Env:
    api: APIServer
    client: KubeClient
    fabric: topology.Fabric
    root: Path
    kubelet: Kubelet

    def new_kubelet(self) -> Kubelet:
        node = node_object(
            "k1", "192.168.1.2", {"fip.io/l2": "k"}, {"fip.io/parent": "eth1"}, "2026-01-01T00:00:00Z"
        )
        runtime = Runtime(self.root / "net.d", [self.root / "bin"])
        return Kubelet(self.client, node, runtime=runtime, store=Store(self.root / "sandboxes"),
                       prefix=self.fabric.prefix)  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("kubelet")
    cfg = config.parse(CFG)
    with topology.build(cfg, unique_prefix("fiptest-kl")) as fabric, APIServer(port=0) as api:
        kubeconfig = api.write_kubeconfig(root / "kubeconfig")
        client = KubeClient(str(kubeconfig))
        client.create(SUBNETS, cfg.subnets[0].resource)
        install = [str(BIN / "fipd"), "install-cni", "--bin-dir", str(root / "bin"), "--conf-dir",
                   str(root / "net.d"), "--socket", str(root / "fipd.sock")]  # fmt: skip
        subprocess.run(install, check=True, capture_output=True)
        log = (root / "fipd.log").open("ab")
        fipd = subprocess.Popen(
            [str(BIN / "fipd"), "--node", "k1", "--mode", "bridge", "--parent", "eth1", "--host-netns",
             fabric.node_netns["k1"], "--kubeconfig", str(kubeconfig), "--socket", str(root / "fipd.sock"),
             "--state-dir", str(root / "state"), "--annotation-timeout", "1", "--garp-count", "1"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        e = Env(api, client, fabric, root, None)  # type: ignore[arg-type]
        e.kubelet = e.new_kubelet()
        try:
            e.kubelet.start()
            wait_for(lambda: (root / "fipd.sock").exists() or fipd.poll() is not None, 20, "fipd's socket")
            assert fipd.poll() is None, (root / "fipd.log").read_text()[-2000:]
            yield e
        finally:
            e.kubelet.stop()
            fipd.terminate()
            fipd.wait(timeout=15)
            log.close()


def make_pod(env: Env, name: str, ip: str | None, *, fip: bool = True) -> dict[str, Any]:
    res = {"limits": {"fip.io/ip": "1"}} if fip else {}
    pod = env.client.create(PODS, {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "app:1", "resources": res}]},
    })  # fmt: skip
    ann = {}
    if ip:
        alloc = {"ip": ip, "prefix": 24, "gateway": "10.41.0.1", "vlan": 0, "subnet": "sk",
                 "owner": f"default/Pod/{name}"}  # fmt: skip
        ann = {"fip.io/allocation": json.dumps(alloc, separators=(",", ":"))}
    env.client.bind_pod("default", name, pod["metadata"]["uid"], "k1", ann)
    return env.client.get(PODS, name, "default")


def running(env: Env, name: str) -> dict[str, Any] | None:
    pod = env.client.get(PODS, name, "default")
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
    return pod if pod["status"].get("phase") == "Running" and ready else None


def gone(env: Env, name: str) -> bool:
    try:
        env.client.get(PODS, name, "default")
    except NotFound:
        return True
    return False


def test_a_pod_gets_its_ip_a_container_and_a_status_then_deletion_removes_it(env: Env) -> None:
    uid = make_pod(env, "web", "10.41.0.20")["metadata"]["uid"]
    pod = wait_for(lambda: running(env, "web"), 20, "web Running and Ready")
    assert pod["status"]["podIP"] == "10.41.0.20"
    assert pod["status"]["podIPs"] == [{"ip": "10.41.0.20"}]
    assert pod["status"]["hostIP"] == "192.168.1.2"
    assert {c["type"] for c in pod["status"]["conditions"]} >= {"Ready", "ContainersReady", "PodScheduled"}
    body = json.loads(http_get(env.fabric.legacy_netns["sk"], "10.41.0.20"))
    assert body == {"pod": "default/web", "uid": uid, "ip": "10.41.0.20", "node": "k1"}
    netns = netns_name(env.fabric.prefix, uid)
    assert netns in netlink.list_netns()
    env.client.delete(PODS, "web", "default")  # graceful: the kubelet confirms
    wait_for(lambda: gone(env, "web"), 20, "web deleted after the kubelet's confirmation")
    assert netns not in netlink.list_netns()
    assert not list((env.root / "state").glob("*"))  # fipd's state for the container is gone: DEL ran
    with pytest.raises(OSError):
        http_get(env.fabric.legacy_netns["sk"], "10.41.0.20", timeout=0.5)


def test_a_failing_add_is_reported_retried_and_leaves_nothing(env: Env) -> None:
    uid = make_pod(env, "noalloc", None)["metadata"]["uid"]  # no annotation: fipd refuses (102)

    def warnings() -> int:
        items = env.client.list(EVENTS, "default", field_selector="involvedObject.name=noalloc")["items"]
        return sum(e["reason"] == "FailedCreatePodSandBox" for e in items)

    wait_for(warnings, 20, "a FailedCreatePodSandBox event")
    wait_for(
        lambda: env.kubelet.queue.retries("default/noalloc") >= 2, 20, "the kubelet retrying the sandbox"
    )
    assert warnings() == 1  # the same failure again is not posted again (no event flood)
    pod = env.client.get(PODS, "noalloc", "default")
    assert pod["status"]["phase"] == "Pending"
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "PodReadyToStartContainers")
    assert ready["status"] == "False" and "102" in ready["message"]
    env.client.delete(PODS, "noalloc", "default")
    wait_for(lambda: gone(env, "noalloc"), 20, "noalloc deleted")
    assert netns_name(env.fabric.prefix, uid) not in netlink.list_netns()
    assert uid not in env.kubelet.records


def test_pods_without_fip_run_without_a_sandbox(env: Env) -> None:
    make_pod(env, "plain", None, fip=False)
    pod = wait_for(lambda: running(env, "plain"), 20, "plain Running")
    assert "podIP" not in pod["status"]
    assert not [n for n in netlink.list_netns() if n.endswith(pod["metadata"]["uid"])]
    env.client.delete(PODS, "plain", "default")
    wait_for(lambda: gone(env, "plain"), 20, "plain deleted")


def test_a_restarted_kubelet_takes_over_and_cleans_up_what_went_while_it_was_down(env: Env) -> None:
    make_pod(env, "keep", "10.41.0.21")
    uid_drop = make_pod(env, "drop", "10.41.0.22")["metadata"]["uid"]
    wait_for(lambda: running(env, "keep") and running(env, "drop"), 20, "keep and drop Running")
    env.kubelet.stop()
    env.client.delete(PODS, "drop", "default", grace_period=0)  # force-deleted while the kubelet is down
    env.kubelet = env.new_kubelet()
    env.kubelet.start()
    wait_for(
        lambda: netns_name(env.fabric.prefix, uid_drop) not in netlink.list_netns(),
        20,
        "drop's sandbox removed",
    )
    body = wait_for(lambda: _try_get(env, "10.41.0.21"), 20, "keep's container serving again")
    assert json.loads(body)["pod"] == "default/keep"
    env.client.delete(PODS, "keep", "default")
    wait_for(lambda: gone(env, "keep"), 20, "keep deleted")


def _try_get(env: Env, ip: str) -> str | None:
    try:
        return http_get(env.fabric.legacy_netns["sk"], ip, timeout=0.5)
    except OSError:
        return None
