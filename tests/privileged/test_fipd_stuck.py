"""A thread stuck in a pod's network namespace ends fipd (exit 3, the reason in its log), and no
later request is served by that process: the next ones find fipd gone (code 11, the runtime
retries), and the restarted fipd plugs them into the right namespaces.

The stuck thread is real: `stuck_setns.c`, preloaded into fipd, makes setns(2) refuse the way
back out of one chosen pod namespace for the thread that entered it (the Nth entry), so
bridge/nsenter.py raises NamespaceStuck exactly as it would on a kernel refusal. Case 1: the CNI
request thread (its pod rtnetlink socket, the first entry). Case 2: the announcer thread (the
gratuitous ARP after a successful ADD, the second entry).

Topology and fipd as in tests/privileged/test_fipd_cni.py: `lab.topology.single_node` in bridge
mode, the lab's API server in this process, fipd a subprocess with --host-netns.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fipd_process import FipdProcess

from bridge.netlink import Netlink
from fipd.install import install_plugin
from fipd.stopping import EXIT_NAMESPACE_STUCK
from lab.apiserver import APIServer
from lab.topology import PodLab, single_node

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
        reason="needs root (network namespaces)",
    ),
]

SHIM = Path(__file__).with_name("stuck_setns.c")


@dataclass
class Lab:
    env: PodLab
    api: APIServer
    plugin: Path
    root: Path
    kubeconfig: Path
    shim: Path

    def fipd(
        self, name: str, *, garp_count: int, stuck: str = "", at: int = 1, delay_ms: int = 0
    ) -> FipdProcess:
        """A started fipd under root/`name`; with `stuck` (a pod netns name) the shim is preloaded."""
        flags = ["--mode", "bridge", "--annotation-timeout", "1", "--garp-count", str(garp_count)]
        daemon = FipdProcess(self.root / name, self.kubeconfig, self.env.node.netns, flags)
        daemon.root.mkdir(exist_ok=True)  # a restart reuses socket and state dir, as the DaemonSet's does
        # the dead fipd's socket file is still there (fipd replaces such a file itself); remove it
        # so that start() waits for the new one
        daemon.socket.unlink(missing_ok=True)
        if stuck:
            ino = os.stat(f"/var/run/netns/{stuck}").st_ino
            daemon.argv = [
                "/usr/bin/env", f"LD_PRELOAD={self.shim}", f"FIP_TEST_STUCK_NETNS_INO={ino}",
                f"FIP_TEST_STUCK_AT={at}", f"FIP_TEST_STUCK_DELAY_MS={delay_ms}", *daemon.argv,
            ]  # fmt: skip
        daemon.start()
        return daemon

    def pod(self, name: str, ip: str) -> tuple[str, str]:
        """A pod bound to n1 with its allocation, and its sandbox netns: (uid, netns path)."""
        alloc = {"ip": ip, "vlan": 0, "subnet": "dc1-a", "prefix": 24, "gateway": "10.0.1.1",
                 "owner": f"default/Pod/{name}"}  # fmt: skip
        meta = {"name": name, "namespace": "default", "annotations": {"fip.io/allocation": json.dumps(alloc)}}
        spec = {"nodeName": "n1", "containers": [{"name": "c", "image": "pause",
                                                  "resources": {"limits": {"fip.io/ip": "1"}}}]}  # fmt: skip
        created = self.api.storage.create("pods", {"metadata": meta, "spec": spec})
        return str(created["metadata"]["uid"]), f"/var/run/netns/{self.env.net.add_netns(name)}"

    def cni(self, daemon: FipdProcess, command: str, name: str, uid: str, netns: str) -> tuple[int, Any]:
        """The real fip-cni, as containerd runs it: (exit code, its JSON output or None)."""
        env = {
            "CNI_COMMAND": command, "CNI_CONTAINERID": f"{name}-sandbox", "CNI_NETNS": netns,
            "CNI_IFNAME": "eth0", "CNI_PATH": str(self.plugin.parent), "PATH": "/usr/bin:/bin",
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={name};K8S_POD_UID={uid}",
        }  # fmt: skip
        conf = {"cniVersion": "1.0.0", "name": "fip", "type": "fip-cni", "socket": str(daemon.socket)}
        run = subprocess.run(
            [str(self.plugin)], input=json.dumps(conf), env=env, capture_output=True, text=True,
            timeout=30, check=False,
        )  # fmt: skip
        assert run.stderr == "", run.stderr
        return run.returncode, json.loads(run.stdout) if run.stdout.strip() else None

    def links(self, netns: str) -> list[str]:
        with Netlink(netns) as nl:
            return sorted(lk.name for lk in nl.links())

    def host_links(self) -> list[str]:
        return self.links(self.env.node.netns)


def stop(daemon: FipdProcess) -> None:
    if daemon.proc is not None and daemon.proc.poll() is None:
        daemon.proc.kill()
        daemon.proc.wait()


def assert_exited_stuck(daemon: FipdProcess, netns: str, thread: str) -> None:
    assert daemon.proc is not None
    try:
        code = daemon.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        stop(daemon)
        raise AssertionError(
            f"fipd kept running with a stuck thread:\n{daemon.log.read_text()[-3000:]}"
        ) from None
    log = daemon.log.read_text()
    assert code == EXIT_NAMESPACE_STUCK, log[-3000:]
    assert "stuck_setns: refusing the way back" in log  # the shim did act
    assert f"thread {thread}" in log and f"could not return from network namespace {netns}" in log, log[
        -3000:
    ]
    assert f"fipd exits with code {EXIT_NAMESPACE_STUCK}" in log


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    root = Path(f"/tmp/fiptest-stuck-{uuid.uuid4().hex[:6]}")
    root.mkdir()
    gcc = shutil.which("gcc")
    assert gcc, "the namespace-stuck tests need gcc (scripts/setup.sh installs it)"
    shim = root / "stuck_setns.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", str(shim), str(SHIM), "-ldl"], check=True)
    gen = iter(single_node("bridge", str(root / "sys")))
    env = next(gen)
    api = APIServer(port=0).start()
    try:
        kubeconfig = api.write_kubeconfig(root / "kubeconfig")
        api.storage.create("nodes", {"metadata": {"name": "n1", "labels": {"fip.io/l2": "a"}}})
        spec = {"cidr": "10.0.1.0/24", "gateway": "10.0.1.1", "vlan": 0,
                "nodeSelector": {"matchLabels": {"fip.io/l2": "a"}}}  # fmt: skip
        api.storage.create(
            "subnets",
            {"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": "dc1-a"}, "spec": spec},
        )
        yield Lab(env, api, install_plugin(root / "bin"), root, kubeconfig, shim)
    finally:
        api.stop()
        next(gen, None)
        shutil.rmtree(root, ignore_errors=True)


def test_request_thread_stuck_in_a_pod_namespace_ends_fipd(lab: Lab) -> None:
    uid, netns = lab.pod("req-a", "10.0.1.61")
    later_uid, later_netns = lab.pod("req-b", "10.0.1.62")
    host_before = lab.host_links()
    daemon = lab.fipd("req", garp_count=0, stuck=os.path.basename(netns), at=1)
    try:
        code, err = lab.cni(daemon, "ADD", "req-a", uid, netns)
        assert code == 1 and err["code"] == 11, err  # fip-cni: the connection closed without an answer
        assert_exited_stuck(daemon, netns, "cni-request")
        # no later request is served by the process with the stuck thread: it is gone
        code, err = lab.cni(daemon, "ADD", "req-b", later_uid, later_netns)
        assert code == 1 and err["code"] == 11 and "fipd is not running" in err["msg"], err
        assert lab.links(netns) == ["lo"] and lab.links(later_netns) == ["lo"]
        assert lab.host_links() == host_before  # nor on the node
    finally:
        stop(daemon)
    # the restarted fipd (the DaemonSet's) serves both, each in its own namespace
    again = lab.fipd("req", garp_count=0)
    try:
        for name, pod_uid, pod_netns in (("req-a", uid, netns), ("req-b", later_uid, later_netns)):
            code, res = lab.cni(again, "ADD", name, pod_uid, pod_netns)
            assert code == 0, res
            assert res["interfaces"][0]["sandbox"] == pod_netns
            assert lab.links(pod_netns) == ["eth0", "lo"]
        assert lab.env.net.ping(os.path.basename(netns), "10.0.1.250")
        assert lab.env.net.ping(os.path.basename(later_netns), "10.0.1.250")
        for name, pod_uid, pod_netns in (("req-a", uid, netns), ("req-b", later_uid, later_netns)):
            assert lab.cni(again, "DEL", name, pod_uid, pod_netns) == (0, None)
            assert lab.links(pod_netns) == ["lo"]
        assert sorted({*host_before, "fipbr0"}) == lab.host_links()  # the VLAN's bridge stays, by design
    finally:
        stop(again)


def test_announcer_thread_stuck_in_a_pod_namespace_ends_fipd(lab: Lab) -> None:
    uid, netns = lab.pod("ann-a", "10.0.1.71")
    later_uid, later_netns = lab.pod("ann-b", "10.0.1.72")
    # entry 1: the ADD's pod socket (request thread); entry 2: the announcement (announcer thread),
    # which refuses the way back only after a second, so the ADD's answer is out first
    daemon = lab.fipd("ann", garp_count=1, stuck=os.path.basename(netns), at=2, delay_ms=1000)
    try:
        code, res = lab.cni(daemon, "ADD", "ann-a", uid, netns)
        assert code == 0, res
        assert lab.links(netns) == ["eth0", "lo"]
        assert_exited_stuck(daemon, netns, "garp")
        code, err = lab.cni(daemon, "ADD", "ann-b", later_uid, later_netns)
        assert code == 1 and err["code"] == 11 and "fipd is not running" in err["msg"], err
        assert lab.links(later_netns) == ["lo"]
    finally:
        stop(daemon)
    again = lab.fipd("ann", garp_count=1)
    try:
        code, res = lab.cni(again, "ADD", "ann-b", later_uid, later_netns)
        assert code == 0, res
        assert lab.env.net.ping(os.path.basename(later_netns), "10.0.1.250")
        assert lab.env.net.ping(os.path.basename(netns), "10.0.1.250")  # ann-a's plug was complete
        for name, pod_uid, pod_netns in (("ann-a", uid, netns), ("ann-b", later_uid, later_netns)):
            assert lab.cni(again, "DEL", name, pod_uid, pod_netns) == (0, None)
            assert lab.links(pod_netns) == ["lo"]
    finally:
        stop(again)
