"""The real fipd (subprocess) and the real single-file fip-cni, as containerd calls them.

Topology: `lab.topology.single_node` (switch with VLANs 0/100, router 10.0.1.1 / 10.0.2.1, node
n1 with eth1 + eth1.100, legacy hosts 10.0.1.250 / 10.0.2.250). The lab's fake API server runs in
this process with Node n1 (label fip.io/l2=a), Subnets dc1-a (10.0.1.0/24, VLAN 0) and dc1-v100
(10.0.2.0/24, VLAN 100) for n1, and dc9 (10.0.9.0/24) for other nodes. fipd runs from the root
namespace with --host-netns (one fipd per simulated node), socket and state under a temp dir.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fipd_process import FipdProcess

from bridge.netlink import Netlink
from bridge.nsenter import write_sysctl
from fipd.install import install_plugin
from lab.apiserver import APIServer
from lab.network import LabNetwork
from lab.topology import PodLab, single_node

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
        reason="needs root (network namespaces)",
    ),
]

SUBNETS = [
    ("dc1-a", "10.0.1.0/24", "10.0.1.1", 0, {"fip.io/l2": "a"}),
    ("dc1-v100", "10.0.2.0/24", "10.0.2.1", 100, {"fip.io/l2": "a"}),
    ("dc9", "10.0.9.0/24", "10.0.9.1", 0, {"fip.io/l2": "elsewhere"}),
]


class Fipd(FipdProcess):
    def __init__(self, root: Path, kubeconfig: Path, node_netns: str, mode: str) -> None:
        flags = [
            "--mode", mode, "--service-cidr", "10.96.0.0/12",
            "--annotation-timeout", "1", "--garp-count", "1",
        ]  # fmt: skip
        super().__init__(root, kubeconfig, node_netns, flags)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@dataclass
class Lab:
    env: PodLab
    api: APIServer
    fipd: Fipd
    plugin: Path
    root: Path

    @property
    def net(self) -> LabNetwork:
        return self.env.net

    def pod(self, name: str, alloc: dict[str, Any] | None, *, fip: bool = True) -> str:
        """Create a pod bound to n1 (with the allocation annotation) and its sandbox netns."""
        meta: dict[str, Any] = {"name": name, "namespace": "default"}
        if alloc is not None:
            full = {
                "vlan": 0,
                "subnet": "dc1-a",
                "prefix": 24,
                "gateway": "10.0.1.1",
                "owner": f"default/Pod/{name}",
            }
            meta["annotations"] = {"fip.io/allocation": json.dumps({**full, **alloc}, separators=(",", ":"))}
        res = {"limits": {"fip.io/ip": "1"}} if fip else {}
        spec = {"nodeName": "n1", "containers": [{"name": "c", "image": "pause", "resources": res}]}
        created = self.api.storage.create("pods", {"metadata": meta, "spec": spec})
        return str(created["metadata"]["uid"])

    def cni(self, command: str, name: str, uid: str, netns: str, *, cid: str = "", stdin: str | None = None,
            **env_over: str) -> tuple[int, Any]:  # fmt: skip
        cid = cid or f"{name}-sandbox"
        env = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": cid,
            "CNI_NETNS": netns,
            "CNI_IFNAME": "eth0",
            "CNI_PATH": str(self.plugin.parent),
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={name};"
            f"K8S_POD_INFRA_CONTAINER_ID={cid};K8S_POD_UID={uid}",
            "PATH": "/usr/bin:/bin",
        }
        env.update(env_over)
        env = {k: v for k, v in env.items() if v != "<unset>"}
        conf = {"cniVersion": "1.0.0", "name": "fip", "type": "fip-cni", "socket": str(self.fipd.socket)}
        run = subprocess.run(
            [str(self.plugin)], input=stdin if stdin is not None else json.dumps(conf), env=env,
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert run.stderr == "", run.stderr
        return run.returncode, json.loads(run.stdout) if run.stdout.strip() else None

    def links(self, netns: str) -> list[str]:
        with Netlink(netns) as nl:
            return sorted(lk.name for lk in nl.links())


@pytest.fixture(scope="module", params=["bridge", "macvlan"])
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    mode = request.param
    root = Path(f"/tmp/fiptest-fipd-{uuid.uuid4().hex[:6]}")
    root.mkdir()
    gen = iter(single_node(mode, str(root / "sys")))
    env = next(gen)
    api = APIServer(port=0).start()
    fipd: Fipd | None = None
    try:
        kubeconfig = api.write_kubeconfig(root / "kubeconfig")
        api.storage.create("nodes", {"metadata": {"name": "n1", "labels": {"fip.io/l2": "a"}}})
        for name, cidr, gw, vlan, labels in SUBNETS:
            spec = {"cidr": cidr, "gateway": gw, "vlan": vlan, "nodeSelector": {"matchLabels": labels}}
            api.storage.create(
                "subnets",
                {"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": name}, "spec": spec},
            )
        write_sysctl(env.net.hosts["lh0"].netns, "net.ipv4.conf.eth0.arp_accept", "1")
        fipd = Fipd(root, kubeconfig, env.node.netns, mode)
        fipd.start()
        yield Lab(env, api, fipd, install_plugin(root / "bin"), root)
    finally:
        if fipd is not None:
            fipd.stop()
        api.stop()
        next(gen, None)  # runs single_node's teardown (its `with LabNetwork` exits)
        shutil.rmtree(root, ignore_errors=True)


def ns_path(netns: str) -> str:
    return f"/var/run/netns/{netns}"


def test_add_check_del_with_containerd_environment(lab: Lab) -> None:
    uid = lab.pod("web-0", {"ip": "10.0.1.17"})
    pod = lab.net.add_netns("web-0")
    code, res = lab.cni("ADD", "web-0", uid, ns_path(pod))
    assert code == 0, res
    assert res["ips"] == [{"address": "10.0.1.17/24", "gateway": "10.0.1.1", "interface": 0}]
    assert res["interfaces"][0]["sandbox"] == ns_path(pod)
    mac = res["interfaces"][0]["mac"]
    legacy = lab.net.hosts["lh0"].netns  # arp_accept=1: it learns the pod from the gratuitous ARP alone
    deadline = time.monotonic() + 2
    while mac not in lab.net.run(legacy, "ip", "neigh", "show", "10.0.1.17").stdout:
        assert time.monotonic() < deadline, "fipd's gratuitous ARP did not reach the legacy host"
        time.sleep(0.02)
    assert lab.net.ping(pod, "10.0.1.250")
    assert lab.net.ping(lab.net.hosts["lh0"].netns, "10.0.1.17")
    stdin = json.dumps({"cniVersion": "1.0.0", "name": "fip", "type": "fip-cni",
                        "socket": str(lab.fipd.socket), "prevResult": res})  # fmt: skip
    assert lab.cni("CHECK", "web-0", uid, ns_path(pod), stdin=stdin) == (0, None)
    assert lab.cni("DEL", "web-0", uid, ns_path(pod)) == (0, None)
    assert lab.links(pod) == ["lo"]
    assert lab.cni("DEL", "web-0", uid, ns_path(pod)) == (0, None)
    assert not lab.net.ping(lab.net.hosts["lh0"].netns, "10.0.1.17", wait=0.3)


def test_vlan_subnet_and_del_without_netns(lab: Lab) -> None:
    uid = lab.pod("v100", {"ip": "10.0.2.20", "gateway": "10.0.2.1", "vlan": 100, "subnet": "dc1-v100"})
    pod = lab.net.add_netns("v100")
    code, res = lab.cni("ADD", "v100", uid, ns_path(pod))
    assert code == 0, res
    assert lab.net.ping(pod, "10.0.2.250")
    assert lab.cni("DEL", "v100", uid, "<unset>") == (0, None)  # containerd may omit CNI_NETNS
    assert lab.links(pod) == ["lo"]


def test_fipd_restart_keeps_pods_connected_and_del_works_from_state(lab: Lab) -> None:
    uid = lab.pod("keep", {"ip": "10.0.1.30"})
    pod = lab.net.add_netns("keep")
    assert lab.cni("ADD", "keep", uid, ns_path(pod))[0] == 0
    pinger = subprocess.Popen(
        ["ip", "netns", "exec", lab.net.hosts["lh0"].netns,
         "ping", "-n", "-i", "0.05", "-W", "1", "10.0.1.30"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        time.sleep(0.3)
        lab.fipd.stop()
        time.sleep(0.3)
        code, err = lab.cni("ADD", "keep", uid, ns_path(pod), cid="other")
        assert code == 1 and err["code"] == 11 and "fipd is not running" in err["msg"]
        assert str(lab.fipd.socket) in err["details"]
        lab.fipd.start()
        time.sleep(0.3)
    finally:
        pinger.send_signal(signal.SIGINT)
        out, _ = pinger.communicate(timeout=5)
    stats = next(line for line in out.splitlines() if "packets transmitted" in line)
    sent, received = (int(stats.split()[i]) for i in (0, 3))
    assert sent >= 10 and received == sent, stats
    assert lab.cni("DEL", "keep", uid, ns_path(pod)) == (0, None)
    assert lab.links(pod) == ["lo"]


def test_startup_sweep_unplugs_gone_pods_only(lab: Lab) -> None:
    stay_uid = lab.pod("stay", {"ip": "10.0.1.40"})
    gone_uid = lab.pod("gone", {"ip": "10.0.1.41"})
    stay, gone = lab.net.add_netns("stay"), lab.net.add_netns("gone")
    assert lab.cni("ADD", "stay", stay_uid, ns_path(stay))[0] == 0
    assert lab.cni("ADD", "gone", gone_uid, ns_path(gone))[0] == 0
    lab.fipd.stop()
    lab.api.storage.delete("pods", "gone", "default", grace_period=0)
    lab.fipd.start()
    assert lab.links(gone) == ["lo"]
    assert not (lab.root / "state" / "gone-sandbox_eth0.json").exists()
    assert lab.links(stay) == ["eth0", "lo"]
    assert lab.net.ping(stay, "10.0.1.250")
    assert lab.cni("DEL", "gone", gone_uid, ns_path(gone)) == (0, None)
    assert lab.cni("DEL", "stay", stay_uid, ns_path(stay)) == (0, None)


@pytest.mark.parametrize(
    ("name", "alloc", "code", "text"),
    [
        ("outside", {"ip": "10.0.9.17", "gateway": "10.0.9.1", "subnet": "dc9"}, 104, "not in that subnet"),
        ("badvlan", {"ip": "10.0.1.50", "vlan": 300}, 104, "VLAN 300"),
        ("badip", {"ip": "10.0.1.050"}, 103, "leading zero"),
        ("noalloc", None, 102, "after 1 s"),
    ],
)
def test_refused_allocations_leave_nothing(
    lab: Lab, name: str, alloc: dict[str, Any] | None, code: int, text: str
) -> None:
    uid = lab.pod(name, alloc)
    pod = lab.net.add_netns(name)
    rc, err = lab.cni("ADD", name, uid, ns_path(pod))
    assert rc == 1 and err["code"] == code, err
    assert text in err["msg"] + err["details"]
    assert lab.links(pod) == ["lo"]
    assert not list((lab.root / "state").glob(f"{name}-sandbox_*"))


def test_pod_without_fip_resource_fails_fast(lab: Lab) -> None:
    uid = lab.pod("plain", None, fip=False)
    pod = lab.net.add_netns("plain")
    t = time.monotonic()
    rc, err = lab.cni("ADD", "plain", uid, ns_path(pod))
    assert rc == 1 and err["code"] == 102
    assert "does not request the extended resource fip.io/ip" in err["details"]
    assert time.monotonic() - t < 0.9


@pytest.mark.parametrize(
    ("over", "stdin", "code"),
    [
        ({"CNI_NETNS": "/var/run/netns/fiptest-nonexistent"}, None, 3),
        ({"CNI_CONTAINERID": "../../etc/passwd"}, None, 4),
        ({"CNI_IFNAME": "<unset>"}, None, 4),
        ({"CNI_COMMAND": "<unset>"}, None, 4),
        ({}, "{not json", 6),
        ({}, '{"cniVersion":"7.0.0","name":"fip","type":"fip-cni"}', 1),
    ],
)
def test_bad_invocations(lab: Lab, over: dict[str, str], stdin: str | None, code: int) -> None:
    over = dict(over)  # the parameter dict is shared by both modes' runs
    name = f"bad{len(lab.api.storage.list('pods'))}"
    uid = lab.pod(name, {"ip": "10.0.1.60"})
    pod = lab.net.add_netns(name)
    rc, err = lab.cni("ADD", name, uid, over.pop("CNI_NETNS", ns_path(pod)), stdin=stdin, **over)
    assert rc == 1 and err["code"] == code, err
    assert err["msg"]
    assert lab.links(pod) == ["lo"]


def test_parallel_adds_and_dels(lab: Lab) -> None:
    """The kubelet starts sandboxes in parallel: fipd serves them concurrently."""
    from concurrent.futures import ThreadPoolExecutor

    pods = [
        (f"par{i}", lab.pod(f"par{i}", {"ip": f"10.0.1.{100 + i}"}), lab.net.add_netns(f"par{i}"))
        for i in range(8)
    ]
    with ThreadPoolExecutor(8) as pool:
        adds = list(pool.map(lambda p: lab.cni("ADD", p[0], p[1], ns_path(p[2])), pods))
    assert [code for code, _ in adds] == [0] * 8, adds
    for i, (_, _, ns) in enumerate(pods):
        assert lab.net.ping(ns, f"10.0.1.{100 + (i + 1) % 8}")
    with ThreadPoolExecutor(8) as pool:
        dels = list(pool.map(lambda p: lab.cni("DEL", p[0], p[1], ns_path(p[2])), pods))
    assert dels == [(0, None)] * 8
    assert all(lab.links(ns) == ["lo"] for _, _, ns in pods)
