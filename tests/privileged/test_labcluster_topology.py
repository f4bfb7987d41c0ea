"""The `fip-lab up` network (lab.cluster.topology) and the legacy host's whitelist service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest

from bridge import netlink
from bridge.netlink import Netlink, Route
from lab.cluster import config, legacy, topology
from lab.network import unique_prefix
from lab.wait import wait_for

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
        reason="needs root (network namespaces)",
    ),
]

CFG = {
    "domains": {
        "a": {
            "nodes": ["a1", "a2"],
            "subnets": [
                {
                    "name": "sa",
                    "cidr": "10.31.0.0/24",
                    "legacy": {"address": "10.31.0.250", "allow": ["10.31.0.10"]},
                },
                {"name": "sa-v5", "cidr": "10.31.5.0/24", "vlan": 5},
            ],
        },
        "b": {
            "nodes": ["b1"],
            "subnets": [{"name": "sb", "cidr": "10.32.0.0/24", "legacy": {"address": "10.32.0.250"}}],
        },
    }
}


@pytest.fixture(scope="module")
def fabric() -> Iterator[topology.Fabric]:
    with topology.build(config.parse(CFG), unique_prefix("fiptest-cl")) as fab:
        yield fab


def client(fab: topology.Fabric, name: str, domain: str, ip: str, vlan: int = 0) -> str:
    """A namespace standing in for a pod: `ip`/24 on a port of the domain's VLAN bridge."""
    ns = fab.net.add_netns(name)
    fab.net.wire(domain, vlan, ns, "eth0")
    with Netlink(ns) as nl:
        nl.add_address("eth0", ip_address(ip), 24)
        nl.add_route(Route(dst=None, oif="eth0", gateway=ip_address(ip.rsplit(".", 1)[0] + ".1")))
    return ns


def test_the_router_joins_nodes_subnets_and_legacy_hosts_of_every_domain(fabric: topology.Fabric) -> None:
    net = fabric.net
    assert set(fabric.node_netns) == {"a1", "a2", "b1"}
    a1 = fabric.node_netns["a1"]
    with Netlink(a1) as nl:
        names = {lk.name for lk in nl.links()}
    assert {"eth1", "eth1.5"} <= names  # domain a carries VLAN 5: every node of it gets the trunk
    assert net.ping(a1, "192.168.1.1")  # its node-network gateway
    assert net.ping(a1, "192.168.2.2")  # node b1, routed from domain a to domain b
    assert net.ping(fabric.legacy_netns["sa"], "10.32.0.250")  # legacy hosts of both domains
    assert set(fabric.legacy_netns) == {"sa", "sb"}


def test_vlans_are_separate_l2_domains(fabric: topology.Fabric) -> None:
    tagged = client(fabric, "v5", "a", "10.31.5.40", vlan=5)
    assert fabric.net.ping(tagged, "10.31.5.1")
    wrong = client(fabric, "v0wrong", "a", "10.31.5.41", vlan=0)  # the VLAN-5 subnet on the untagged bridge
    assert not fabric.net.ping(wrong, "10.31.5.1", wait=0.5)


def test_the_legacy_host_accepts_only_whitelisted_ips_and_logs_every_decision(
    fabric: topology.Fabric, tmp_path: Path
) -> None:
    allow, log = tmp_path / "allow", tmp_path / "decisions"
    legacy.write_whitelist(allow, ["10.31.0.10"])
    argv = [sys.executable, "-m", "lab.cluster.legacy", "--netns", fabric.legacy_netns["sa"],
            "--port", "5000", "--allow-file", str(allow), "--decisions", str(log)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and "serving :5000" in proc.stdout.readline()
        good = client(fabric, "good", "a", "10.31.0.10")
        bad = client(fabric, "bad", "a", "10.31.0.11")
        other = client(fabric, "other", "b", "10.32.0.10")  # another domain, through the router
        assert legacy.knock(good, "10.31.0.250", 5000)
        assert not legacy.knock(bad, "10.31.0.250", 5000)
        assert not legacy.knock(other, "10.31.0.250", 5000)
        legacy.write_whitelist(allow, ["10.31.0.10", "10.32.0.10"])  # granted while it runs
        wait_for(
            lambda: legacy.knock(other, "10.31.0.250", 5000), 5, "the new whitelist entry to take effect"
        )
        assert legacy.decisions(log)[:3] == [
            ("ACCEPT", "10.31.0.10"),
            ("DENY", "10.31.0.11"),
            ("DENY", "10.32.0.10"),
        ]
        assert legacy.decisions(log)[-1] == ("ACCEPT", "10.32.0.10")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0


def test_teardown_and_sweep_leave_no_namespace() -> None:
    prefix = unique_prefix("fiptest-cl")
    with topology.build(config.parse(CFG), prefix) as fab:
        netlink.create_netns(f"{prefix}-pod-unrecorded")  # made behind LabNetwork's back, as a kubelet does
        assert len([n for n in netlink.list_netns() if n.startswith(prefix)]) >= 8
        assert fab.router == f"{prefix}-rt-gw"
    assert [n for n in netlink.list_netns() if n.startswith(prefix)] == []
    with pytest.raises(ValueError), topology.build(config.parse(CFG), prefix):
        raise ValueError("a failure half way")
    assert topology.sweep(prefix) == []
