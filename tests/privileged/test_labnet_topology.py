"""The lab's network builder: what it makes works, VLANs are separate L2 domains, teardown is total."""

from __future__ import annotations

import os

import pytest

from bridge import netlink
from lab.network import LabNetwork, unique_prefix

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
        reason="needs root (network namespaces)",
    ),
]


def _ours(prefix: str) -> list[str]:
    return [n for n in netlink.list_netns() if n.startswith(prefix)]


def test_router_node_and_legacy_host_reach_each_other_and_teardown_removes_everything() -> None:
    prefix = unique_prefix()
    with LabNetwork(prefix) as net:
        net.add_switch("sw", vlans=(0, 100))
        net.add_router("gw", "sw", [("10.0.1.0/24", "10.0.1.1", 100), ("192.168.1.0/24", "192.168.1.1", 0)])
        node = net.add_node("n1", "sw", vlans=(0, 100), node_ip="192.168.1.11/24")
        net.add_legacy_host("lh", "sw", "10.0.1.250/24", vlan=100, gateway="10.0.1.1")
        with netlink.Netlink(node.netns) as nl:
            names = {lk.name for lk in nl.links()}
        assert {"eth1", "eth1.100"} <= names
        assert all(len(n) <= 15 for n in names)
        assert net.ping(node.netns, "192.168.1.1")
        assert net.ping(net.hosts["lh"].netns, "10.0.1.1")
        assert len(_ours(prefix)) == 4
    assert _ours(prefix) == []


def test_teardown_happens_after_an_exception() -> None:
    prefix = unique_prefix()
    with pytest.raises(RuntimeError, match="boom"), LabNetwork(prefix) as net:
        net.add_switch("sw")
        net.add_node("n1", "sw")
        assert len(_ours(prefix)) == 2
        raise RuntimeError("boom")
    assert _ours(prefix) == []


def test_a_failing_build_step_still_tears_down() -> None:
    prefix = unique_prefix()
    with pytest.raises(KeyError), LabNetwork(prefix) as net:
        net.add_switch("sw")
        net.add_node("n1", "no-such-switch")  # namespace made, wiring fails
    assert _ours(prefix) == []


def test_vlans_on_one_switch_are_separate_l2_domains() -> None:
    """Two hosts with addresses in the SAME subnet but on VLANs 100 and 200 cannot reach each other,
    while a third on VLAN 100 can: the switch forwards only within a VLAN."""
    with LabNetwork(unique_prefix()) as net:
        net.add_switch("sw", vlans=(100, 200))
        a = net.add_legacy_host("a", "sw", "10.9.0.1/24", vlan=100)
        net.add_legacy_host("b", "sw", "10.9.0.2/24", vlan=200)
        net.add_legacy_host("c", "sw", "10.9.0.3/24", vlan=100)
        assert net.ping(a.netns, "10.9.0.3")
        assert not net.ping(a.netns, "10.9.0.2", wait=0.5)
        mac_a = net.run(a.netns, "cat", "/sys/class/net/eth0/address").stdout.strip()
        assert mac_a in net.fdb("sw", 100)
        assert mac_a not in net.fdb("sw", 200)
