"""A floating IP moved from node A to node B is reachable at B right after the gratuitous ARP.

What proves the announcement mattered. The pod MAC is derived from the IP, so the legacy host's
ARP entry (IP -> MAC) is *already right* after the move: what is stale is the switch's forwarding
table, which still sends that MAC to node A's port (it would age out after 300 s). The legacy
host keeps unicasting to the MAC while its entry is REACHABLE/DELAY (about 5 s), so without an
announcement its pings vanish into node A. The test therefore runs a control:

1. plug at A; the legacy host pings the IP; the switch maps the pod MAC to A's port.
2. unplug at A, plug at B with `garp_count=0`: the switch still maps the MAC to A's port and
   the legacy host's ping FAILS (within the DELAY window, before any ARP re-probe). (Not for
   the SR-IOV stand-ins: each fake VF has its own switch port, which unplug takes down, and a
   port going down flushes its entries; the switch then floods. Steps 3-4 still hold.)
3. announce once from the pod at B: the switch now maps the MAC to B's port and the very next
   ping SUCCEEDS.
4. the move back (B -> A) with the plug's own announcement (`garp_count=3`): the switch maps the
   MAC to A's port as soon as plug returns, and the first ping succeeds.

IPv6 is disabled in the pod namespaces so nothing but our announcement (no router solicitation,
no MLD report, no DAD) can teach the switch the MAC's new port.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from bridge import make_driver
from bridge.driver import Driver, PlugRequest, PodNetwork
from bridge.garp import announce
from bridge.nsenter import write_sysctl
from lab.network import LabNetwork, Node, unique_prefix
from lab.sriovfake import FakeEswitch, fake_sriov_nic

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true", reason="needs root"),
]

POD_IP = "10.0.1.17"


@dataclass
class Side:
    node: Node
    driver: Driver
    eswitch: FakeEswitch | None

    def port(self, state: dict[str, str]) -> str:
        """The switch port the pod's frames enter by on this node."""
        if self.eswitch is not None:
            return self.eswitch.ports[int(state["vf"])]
        return self.node.switch_ports[0]


@pytest.fixture(params=["bridge", "macvlan", "sriov"])
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LabNetwork, Side, Side]]:
    mode = request.param
    with LabNetwork(unique_prefix()) as net:
        net.add_switch("sw")
        net.add_router("gw", "sw", [("10.0.1.0/24", "10.0.1.1", 0)])
        net.add_legacy_host("lh", "sw", "10.0.1.250/24", gateway="10.0.1.1")
        sides = []
        for name in ("a", "b"):
            node = net.add_node(name, "sw")
            sysfs = str(tmp_path / name)
            esw = fake_sriov_nic(net, node, "sw", sysfs, vfs=1) if mode == "sriov" else None
            driver = make_driver(
                mode, node.parent, host_netns=node.netns, sriov_sysfs_root=sysfs, sriov_vf_control=esw
            )
            sides.append(Side(node, driver, esw))
        yield net, sides[0], sides[1]


def _pod(net: LabNetwork, name: str, garp: int) -> PlugRequest:
    ns = net.add_netns(name)
    write_sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")
    write_sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1")
    network = PodNetwork(ip_address(POD_IP), 24, ip_address("10.0.1.1"), 0, ip_network("10.96.0.0/12"))
    return PlugRequest(f"cid-{name}", f"/var/run/netns/{ns}", "eth0", network, garp_count=garp)


def test_moved_ip_is_reached_at_the_new_node_right_after_the_gratuitous_arp(
    lab: tuple[LabNetwork, Side, Side],
) -> None:
    net, a, b = lab
    legacy = net.hosts["lh"].netns

    req_a = _pod(net, "pa", garp=1)
    res_a = a.driver.plug(req_a)
    assert net.ping(legacy, POD_IP)
    assert net.fdb("sw")[res_a.mac] == a.port(res_a.state)
    neigh = net.run(legacy, "ip", "neigh", "show", POD_IP).stdout
    assert res_a.mac in neigh

    # 2. the control: same move, no announcement -> blackholed at A
    a.driver.unplug(req_a.container_id, req_a.netns_path, req_a.ifname, res_a.state)
    req_b = _pod(net, "pb", garp=0)
    res_b = b.driver.plug(req_b)
    assert res_b.mac == res_a.mac  # deterministic per IP: the ARP entry is not what is stale
    assert net.fdb("sw").get(res_b.mac) != b.port(res_b.state)  # the switch has not learned B
    if a.eswitch is None:
        # (with stand-in VFs, unplug downs the VF's own switch port, which flushes its entries;
        # a real VF shares the PF's switch port, so there the entry would stay stale as here)
        assert net.fdb("sw")[res_b.mac] == a.port(res_a.state)
        assert not net.ping(legacy, POD_IP, wait=0.4)
        assert net.fdb("sw")[res_b.mac] == a.port(res_a.state)  # the failed ping taught the switch nothing

    # 3. one announcement from B fixes it at once
    announce(req_b.netns_path, "eth0", ip_address(POD_IP), res_b.mac, count=1)
    assert net.fdb("sw")[res_b.mac] == b.port(res_b.state)
    assert net.ping(legacy, POD_IP, wait=1.0)

    # 4. and plug's own announcement does the same on the way back
    b.driver.unplug(req_b.container_id, req_b.netns_path, req_b.ifname, res_b.state)
    req_a2 = _pod(net, "pa2", garp=3)
    res_a2 = a.driver.plug(req_a2)
    assert net.fdb("sw")[res_a2.mac] == a.port(res_a2.state)
    assert net.ping(legacy, POD_IP, wait=1.0)
