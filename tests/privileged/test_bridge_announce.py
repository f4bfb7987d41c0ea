"""Announcements are valid on the wire: a neighbour's wrong entry is corrected by them, IPv4 and IPv6.

The legacy host first gets a deliberately wrong, STALE neighbour entry for the pod's IP. Only a
well-formed gratuitous ARP (IPv4) or unsolicited neighbour advertisement with the Override flag,
hop limit 255 and a correct ICMPv6 checksum (IPv6) makes the kernel replace it with the pod's
MAC; nothing else in the test sends the pod's MAC to the legacy host before the check.
Also checks that IPv6 pods get their address, routes and reach the gateway.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from ipaddress import ip_address, ip_network

import pytest

from bridge import make_driver
from bridge.driver import PlugRequest, PodNetwork
from bridge.garp import announce
from lab.network import LabNetwork, unique_prefix

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true", reason="needs root"),
]

FAMILIES = {
    4: ("10.0.1.0/24", "10.0.1.1", "10.0.1.250", "10.0.1.17", "10.96.0.0/12"),
    6: ("fd00:1::/64", "fd00:1::1", "fd00:1::250", "fd00:1::17", "fd00:96::/108"),
}
WRONG_MAC = "02:00:00:00:00:99"


@pytest.fixture
def net() -> Iterator[LabNetwork]:
    with LabNetwork(unique_prefix()) as lab:
        yield lab


def _neigh(net: LabNetwork, ns: str, ip: str) -> str:
    return net.run(ns, "ip", "neigh", "show", ip, "dev", "eth0").stdout.strip()


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("mode", ["bridge", "macvlan"])
def test_announcement_corrects_a_neighbours_entry(net: LabNetwork, mode: str, family: int) -> None:
    cidr, gw, legacy_ip, pod_ip, services = FAMILIES[family]
    prefix = ip_network(cidr).prefixlen
    net.add_switch("sw")
    net.add_router("gw", "sw", [(cidr, gw, 0)])
    legacy = net.add_legacy_host("lh", "sw", f"{legacy_ip}/{prefix}", gateway=gw).netns
    node = net.add_node("n1", "sw")
    pod_ns = net.add_netns("pod")
    driver = make_driver(mode, node.parent, host_netns=node.netns)
    req = PlugRequest(
        "c1",
        f"/var/run/netns/{pod_ns}",
        "eth0",
        PodNetwork(ip_address(pod_ip), prefix, ip_address(gw), 0, ip_network(services)),
        garp_count=0,
    )
    result = driver.plug(req)
    driver.check(req, result.state)
    net.run(legacy, "ip", "neigh", "replace", pod_ip, "lladdr", WRONG_MAC, "dev", "eth0", "nud", "stale")
    assert WRONG_MAC in _neigh(net, legacy, pod_ip)

    announce(req.netns_path, "eth0", ip_address(pod_ip), result.mac, count=2)
    deadline = time.monotonic() + 2
    while result.mac not in _neigh(net, legacy, pod_ip) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert result.mac in _neigh(net, legacy, pod_ip)

    assert net.ping(pod_ns, gw, wait=2)
    assert net.ping(legacy, pod_ip, wait=2)
    driver.unplug(req.container_id, req.netns_path, req.ifname, result.state)
