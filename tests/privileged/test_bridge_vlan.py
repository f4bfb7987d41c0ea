"""Two subnets on VLANs 100 and 200 over one switch cannot see each other.

Each subnet has its own router (so nothing routes between them: what is tested is L2). Pod 1 is
in 10.0.1.0/24 on VLAN 100, pod 2 in 10.0.2.0/24 on VLAN 200, both on the same node. Besides the
pings that must fail, a "trap" host sits on VLAN 200 with an address *inside pod 1's subnet*:
if VLAN 100 frames leaked into VLAN 200 it would answer pod 1's ARP. The switch's VLAN 200 table
must never learn pod 1's MAC (and VLAN 100's never pod 2's).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest

from bridge import make_driver
from bridge.driver import PlugRequest, PodNetwork
from lab.network import LabNetwork, unique_prefix
from lab.sriovfake import fake_sriov_nic

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true", reason="needs root"),
]


@pytest.fixture
def net() -> Iterator[LabNetwork]:
    with LabNetwork(unique_prefix()) as lab:
        yield lab


@pytest.mark.parametrize("mode", ["bridge", "macvlan", "sriov"])
def test_subnets_on_different_vlans_are_isolated(net: LabNetwork, mode: str, tmp_path: Path) -> None:
    net.add_switch("sw", vlans=(0, 100, 200))
    net.add_router("gw1", "sw", [("10.0.1.0/24", "10.0.1.1", 100)])
    net.add_router("gw2", "sw", [("10.0.2.0/24", "10.0.2.1", 200)])
    net.add_legacy_host("lh1", "sw", "10.0.1.250/24", vlan=100, gateway="10.0.1.1")
    net.add_legacy_host("lh2", "sw", "10.0.2.250/24", vlan=200, gateway="10.0.2.1")
    net.add_legacy_host("trap", "sw", "10.0.1.251/24", vlan=200)
    node = net.add_node("n1", "sw", vlans=(0, 100, 200))
    esw = fake_sriov_nic(net, node, "sw", str(tmp_path), vfs=2) if mode == "sriov" else None
    driver = make_driver(
        mode, node.parent, host_netns=node.netns, sriov_sysfs_root=str(tmp_path), sriov_vf_control=esw
    )
    pods = []
    for i, (ip, gw, vlan) in enumerate([("10.0.1.17", "10.0.1.1", 100), ("10.0.2.17", "10.0.2.1", 200)]):
        ns = net.add_netns(f"pod{i}")
        req = PlugRequest(
            f"c{i}", f"/var/run/netns/{ns}", "eth0", PodNetwork(ip_address(ip), 24, ip_address(gw), vlan)
        )
        pods.append((ns, driver.plug(req)))
    (pod1, res1), (pod2, res2) = pods

    assert net.ping(pod1, "10.0.1.1")
    assert net.ping(pod1, "10.0.1.250")
    assert net.ping(pod2, "10.0.2.1")
    assert net.ping(pod2, "10.0.2.250")
    assert not net.ping(pod1, "10.0.1.251", wait=0.5)  # the trap, same subnet, other VLAN
    assert not net.ping(pod1, "10.0.2.17", wait=0.5)
    assert not net.ping(pod1, "10.0.2.1", wait=0.5)
    assert not net.ping(pod2, "10.0.1.17", wait=0.5)
    assert not net.ping(pod2, "10.0.1.1", wait=0.5)
    assert not net.ping(net.hosts["lh2"].netns, "10.0.1.17", wait=0.5)

    fdb100, fdb200 = net.fdb("sw", 100), net.fdb("sw", 200)
    assert res1.mac in fdb100
    assert res1.mac not in fdb200
    assert res2.mac in fdb200
    assert res2.mac not in fdb100
