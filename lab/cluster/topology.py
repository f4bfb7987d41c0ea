"""The lab cluster's network, built from a `LabConfig` with `lab.network.LabNetwork`.

    with build(cfg, prefix) as fabric:
        fabric.node_netns["a1"]      # "<prefix>-a1": the node's namespace (uplink eth1, eth1.N)
        fabric.legacy_netns["dc-a"]  # "<prefix>-lh-dc-a": the legacy host of subnet dc-a
        fabric.router                # "<prefix>-rt-gw"

Per L2 domain one switch namespace `<prefix>-sw-<domain>` with a bridge per VLAN of the domain
(`lab/network.py` explains the trunk emulation). One router namespace is the gateway of every
subnet and every node network: one leg per (domain, VLAN) network, forwarding on, so pods,
nodes and legacy hosts of different domains reach each other through it, as through a data
centre's core router. Nodes get their InternalIP on eth1 and a default route via the router;
legacy hosts get their subnet address and a default route via the subnet's gateway.

Namespaces are named from `prefix`, so `down` finds every one of them by prefix even when the
process that built them is gone (`sweep`). Leaving the context deletes them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from bridge import netlink
from bridge.netlink import Netlink, Route
from bridge.nsenter import write_sysctl
from lab.cluster.config import LabConfig
from lab.network import Host, LabNetwork

ROUTER = "gw"


@dataclass
class Fabric:
    net: LabNetwork
    prefix: str
    router: str = ""
    node_netns: dict[str, str] = field(default_factory=dict)
    legacy_netns: dict[str, str] = field(default_factory=dict)  # subnet name -> namespace


@contextmanager
def build(cfg: LabConfig, prefix: str) -> Iterator[Fabric]:
    """Build everything; on any failure (and on exit) every namespace made so far is removed."""
    try:
        with LabNetwork(prefix) as net:
            fabric = Fabric(net, prefix)
            _build(cfg, fabric)
            yield fabric
    finally:
        sweep(prefix)


def _build(cfg: LabConfig, fabric: Fabric) -> None:
    net = fabric.net
    for d in cfg.domains:
        net.add_switch(d.name, vlans=d.vlans)
    fabric.router = net.add_netns(f"rt-{ROUTER}")
    legs: list[str] = []
    for d in cfg.domains:
        networks = [(0, d.nodes[0].gateway, d.node_cidr.prefixlen)]
        networks += [
            (s.subnet.vlan, IPv4Address(int(s.subnet.gateway)), s.subnet.cidr.prefixlen) for s in d.subnets
        ]
        for vlan, gateway, prefixlen in networks:
            leg = f"r{len(legs)}"
            net.wire(d.name, vlan, fabric.router, leg)
            with Netlink(fabric.router) as nl:
                nl.add_address(leg, gateway, prefixlen)
            legs.append(leg)
    write_sysctl(fabric.router, "net.ipv4.ip_forward", "1")
    net.hosts[ROUTER] = Host(ROUTER, fabric.router, tuple(legs))
    for n in cfg.nodes:
        node = net.add_node(n.name, n.domain, vlans=n.vlans, node_ip=f"{n.ip}/{n.prefix}")
        with Netlink(node.netns) as nl:
            nl.add_route(Route(dst=None, oif="eth1", gateway=n.gateway))
        fabric.node_netns[n.name] = node.netns
    for d in cfg.domains:
        for s in d.subnets:
            if s.legacy is None:
                continue
            lh = s.legacy
            host = net.add_legacy_host(
                f"lh-{lh.subnet}", d.name, f"{lh.address}/{lh.prefix}", vlan=lh.vlan, gateway=str(lh.gateway)
            )
            fabric.legacy_netns[lh.subnet] = host.netns


def sweep(prefix: str) -> list[str]:
    """Delete every namespace named `<prefix>-*` (pods' included); returns the names removed.

    This is how `down` cleans up after a supervisor that died, and how a build interrupted
    between the kernel making a namespace and LabNetwork noting it leaks nothing."""
    removed = []
    for name in netlink.list_netns():
        if name.startswith(f"{prefix}-"):
            netlink.remove_netns(name)
            removed.append(name)
    return removed
