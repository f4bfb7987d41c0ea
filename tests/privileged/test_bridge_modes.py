"""Each datapath mode in real namespaces: plug, reach the gateway and a legacy host, CHECK, unplug.

Topology (lab/network.py): one switch with VLANs 0 and 100; a router with 10.0.1.1 (VLAN 0),
10.0.2.1 (VLAN 100) and the node network 192.168.1.1; node n1 (uplink eth1 = 192.168.1.11/24,
default via 192.168.1.1, plus eth1.100); legacy hosts 10.0.1.250 (VLAN 0) and 10.0.2.250 (VLAN 100).
SR-IOV runs on veth stand-ins for VF netdevs (lab/sriovfake.py): there is no SR-IOV hardware here.
"""

from __future__ import annotations

import os
import socket
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from bridge import netlink
from bridge.errors import CheckFailed
from bridge.netlink import Netlink, Route
from lab.topology import SUBNETS, PodLab, single_node

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
        reason="needs root (network namespaces)",
    ),
]


@pytest.mark.parametrize("vlan", [0, 100])
def test_plugged_pod_reaches_gateway_and_legacy_host_then_unplugs_cleanly(env: PodLab, vlan: int) -> None:
    pod_ns = env.net.add_netns("pod")
    req = env.request(pod_ns, vlan)
    driver = env.driver()
    result = driver.plug(req)
    assert result.mac == "0a:58:" + ":".join(f"{b:02x}" for b in req.network.ip.packed)
    driver.check(req, result.state)
    _, gw, legacy = SUBNETS[vlan]
    assert env.net.ping(pod_ns, gw)
    assert env.net.ping(pod_ns, legacy)
    assert env.net.ping(env.net.hosts[f"lh{vlan}"].netns, str(req.network.ip))
    with Netlink(pod_ns) as nl:
        routes = {(str(r.dst), str(r.gateway)) for r in nl.routes(socket.AF_INET)}
    assert ("None", gw) in routes  # default route
    assert ("10.96.0.0/12", gw) in routes
    # the node keeps its own connectivity (bridge mode moved its address onto the bridge)
    assert env.net.ping(env.node.netns, "192.168.1.1")

    driver.unplug(req.container_id, req.netns_path, req.ifname, result.state)
    driver.unplug(req.container_id, req.netns_path, req.ifname, result.state)  # DEL is idempotent
    with Netlink(pod_ns) as nl:
        assert [lk.name for lk in nl.links()] == ["lo"]
    with pytest.raises(CheckFailed, match="missing"):
        driver.check(req, result.state)
    if env.mode == "sriov":
        with Netlink(env.node.netns) as nl:
            vf = nl.link(result.state["vf_ifname"])
        assert vf is not None  # back on the host under its own name
        assert not vf.mac.startswith("0a:58")
        assert env.eswitch is not None
        assert env.eswitch.calls[-1][0] == "reset"


def test_check_names_what_differs(env: PodLab) -> None:
    pod_ns = env.net.add_netns("pod")
    req = env.request(pod_ns, 0)
    driver = env.driver()
    result = driver.plug(req)
    with Netlink(pod_ns) as nl:
        assert nl.del_route(Route(dst=ip_network("10.96.0.0/12"), oif="eth0", gateway=ip_address("10.0.1.1")))
        nl.del_address("eth0", req.network.ip, req.network.prefix)
    with pytest.raises(CheckFailed) as err:
        driver.check(req, result.state)
    assert any("10.96.0.0/12" in d for d in err.value.differences)
    assert any("address 10.0.1.17/24 missing" in d for d in err.value.differences)
    driver.unplug(req.container_id, req.netns_path, req.ifname, result.state)


def test_unplug_succeeds_when_the_pod_netns_is_gone(env: PodLab) -> None:
    pod_ns = env.net.add_netns("pod")
    req = env.request(pod_ns, 100)
    driver = env.driver()
    result = driver.plug(req)
    env.net.run(env.node.netns, "true")  # the node namespace is still there

    netlink.remove_netns(pod_ns)
    driver.unplug(req.container_id, req.netns_path, req.ifname, result.state)
    driver.unplug(req.container_id, req.netns_path, req.ifname, result.state)
    driver.unplug(req.container_id, None, req.ifname, result.state)
    with Netlink(env.node.netns) as nl:
        names = {lk.name for lk in nl.links()}
    assert not any(n.startswith(("fip", "fit")) and not n.startswith("fipbr") for n in names), names


def test_bridge_mode_moves_the_node_address_and_routes_onto_the_bridge(tmp_path: Path) -> None:
    for env in single_node("bridge", str(tmp_path / "sys")):
        pod_ns = env.net.add_netns("pod")
        req = env.request(pod_ns, 0)
        env.driver().plug(req)
        with Netlink(env.node.netns) as nl:
            addrs = {(a.ifname, str(a.ip)) for a in nl.addresses() if not a.ip.is_link_local}
            default = [r for r in nl.routes() if r.dst is None]
            eth1, br = nl.require("eth1"), nl.require("fipbr0")
        assert addrs == {("fipbr0", "192.168.1.11"), ("lo", "127.0.0.1"), ("lo", "::1")}
        assert [(r.oif, str(r.gateway)) for r in default] == [("fipbr0", "192.168.1.1")]
        assert eth1.master == br.index
        assert br.mac == eth1.mac  # the node keeps its MAC on the wire
        # a second pod reuses the bridge and does not move anything again
        req2 = env.request(env.net.add_netns("pod2"), 0, host_octet=18, cid="c2")
        env.driver().plug(req2)
        assert env.net.ping(env.node.netns, "192.168.1.1")
        assert env.net.ping(pod_ns, "10.0.1.18")


def test_macvlan_pods_are_isolated_from_their_host(tmp_path: Path) -> None:
    """Documented limitation: the node cannot reach its own macvlan pods over the parent NIC,
    while a machine on the wire can (hence ClusterIP via bpf/, not via the host)."""
    for env in single_node("macvlan", str(tmp_path / "sys")):
        pod_ns = env.net.add_netns("pod")
        req = env.request(pod_ns, 0)
        env.driver().plug(req)
        with Netlink(env.node.netns) as nl:
            nl.add_address("eth1", ip_address("10.0.1.5"), 24)
        assert env.net.ping(env.net.hosts["lh0"].netns, "10.0.1.17")
        assert env.net.ping(env.net.hosts["lh0"].netns, "10.0.1.5")
        assert not env.net.ping(env.node.netns, "10.0.1.17", wait=0.5)


def test_check_reports_a_vanished_pod_namespace(env: PodLab) -> None:
    pod_ns = env.net.add_netns("pod")
    req = env.request(pod_ns, 0)
    result = env.driver().plug(req)

    netlink.remove_netns(pod_ns)
    with pytest.raises(CheckFailed, match=r"namespace .* missing"):
        env.driver().check(req, result.state)
    env.driver().unplug(req.container_id, req.netns_path, req.ifname, result.state)
