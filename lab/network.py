"""The lab's network: nodes, switches, routers and legacy hosts as network namespaces.

    with LabNetwork(prefix="fiplab-1a2b") as net:
        net.add_switch("sw")
        net.add_router("gw", "sw", subnets=[("10.0.1.0/24", "10.0.1.1", 100)])
        node = net.add_node("n1", "sw", vlans=(0, 100), node_ip="192.168.1.11/24")
        host = net.add_legacy_host("db", "sw", "10.0.1.250/24", vlan=100, gateway="10.0.1.1")
        pod = net.add_netns("pod1")          # an empty namespace for a pod

Topology. A *switch* is one namespace holding one Linux bridge per VLAN (`b0` for untagged,
`b<N>` for VLAN N): each bridge is one L2 domain, so VLANs are isolated exactly as on a switch.
A *node* is a namespace whose uplink NIC is `eth1` (a veth, port of `b0`). A node that carries
VLAN N gets a second link **named `eth1.N`**, a veth port of `b<N>`.

Why not real 802.1Q trunks: the kernel of the development machines has no CONFIG_VLAN_8021Q (and
no bridge VLAN filtering), so a tagged sub-interface cannot be created at all. The lab emulates
each (trunk, VLAN) pair with its own veth and names the node end like the sub-interface
`bridge/` would make; the drivers reuse an existing `parent.N`, so the datapath under test is the
same above the tag. What the lab does NOT exercise is the 802.1Q encapsulation itself.

A *router* namespace has one leg per subnet (a veth into the subnet VLAN's bridge) carrying the
subnet's gateway address, with forwarding on (or off: `forward=False`). A *legacy host* is a
namespace with `eth0` in one VLAN, an address and a default route: a machine outside Kubernetes.

Names: namespaces are `<prefix>-<name>` (under /var/run/netns, `ip netns` compatible); link
names stay within 15 bytes. Teardown deletes every namespace this object made — which deletes
every link in them — in `__exit__`, also after an exception, and `close()` is idempotent.
Nothing is created in the caller's namespace.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv6Interface, ip_address, ip_interface, ip_network
from types import TracebackType

from bridge import netlink
from bridge.netlink import Netlink, Route
from bridge.nsenter import write_sysctl

UPLINK = "eth1"


def unique_prefix(base: str = "fiptest") -> str:
    """`<base>-<6 hex>`: a namespace prefix no other run is using."""
    return f"{base}-{secrets.token_hex(3)}"


@dataclass(slots=True)
class Switch:
    name: str
    netns: str
    vlans: set[int] = field(default_factory=set)
    ports: int = 0


@dataclass(frozen=True, slots=True)
class Node:
    """A simulated Kubernetes node: `netns` is its namespace name, `parent` its uplink NIC."""

    name: str
    netns: str
    parent: str
    vlans: tuple[int, ...]
    switch_ports: dict[int, str] = field(default_factory=dict)  # VLAN -> this node's port on the switch


@dataclass(frozen=True, slots=True)
class Host:
    """A router or legacy host: its namespace and its interfaces' names."""

    name: str
    netns: str
    ifnames: tuple[str, ...]


class LabNetwork:
    def __init__(self, prefix: str) -> None:
        if len(prefix) > 40 or "/" in prefix:
            raise ValueError(f"lab prefix {prefix!r} must be a short name without '/'")
        self.prefix = prefix
        self.switches: dict[str, Switch] = {}
        self.nodes: dict[str, Node] = {}
        self.hosts: dict[str, Host] = {}
        self._netns: list[str] = []

    # ---- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> LabNetwork:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Delete every namespace made here (newest first); safe to call twice."""
        errors = []
        while self._netns:
            name = self._netns.pop()
            try:
                netlink.remove_netns(name)
            except Exception as err:  # keep tearing down; report at the end
                errors.append(f"{name}: {err}")
        if errors:
            raise RuntimeError("lab teardown left namespaces behind: " + "; ".join(errors))

    def add_netns(self, name: str) -> str:
        """A fresh namespace `<prefix>-<name>` with `lo` up; returns its name."""
        full = f"{self.prefix}-{name}"
        netlink.create_netns(full)
        self._netns.append(full)
        with Netlink(full) as nl:
            nl.set_link("lo", up=True)
        return full

    # ---- building blocks -----------------------------------------------------------------

    def add_switch(self, name: str, vlans: tuple[int, ...] = (0,)) -> Switch:
        sw = Switch(name, self.add_netns(f"sw-{name}"))
        self.switches[name] = sw
        for vlan in vlans:
            self._vlan_bridge(sw, vlan)
        return sw

    def _vlan_bridge(self, sw: Switch, vlan: int) -> str:
        br = f"b{vlan}"
        if vlan not in sw.vlans:
            with Netlink(sw.netns) as nl:
                nl.add_bridge(br)
                nl.set_link(br, up=True)
            sw.vlans.add(vlan)
        return br

    def wire(self, switch: str, vlan: int, netns: str, ifname: str, mac: str | None = None) -> str:
        """A veth from `switch`'s VLAN bridge to `ifname` in `netns`; returns the switch port name.

        Also how tests add extra NICs to a node, e.g. veths standing in for SR-IOV VF netdevs.
        """
        sw = self.switches[switch]
        br = self._vlan_bridge(sw, vlan)
        sw.ports += 1
        port, temp = f"p{sw.ports}", f"t{sw.ports}"
        with Netlink(sw.netns) as nl:
            nl.add_veth(port, temp, mac=mac)
            nl.set_link(port, master=br, up=True)
            nl.move_link(temp, netlink.netns_path(netns), new_name=ifname)
        with Netlink(netns) as nl:
            nl.set_link(ifname, up=True)
        return port

    def add_router(
        self, name: str, switch: str, subnets: list[tuple[str, str, int]], *, forward: bool = True
    ) -> Host:
        """A gateway for each (cidr, gateway, vlan): leg `r<i>` with the gateway address."""
        ns = self.add_netns(f"rt-{name}")
        legs = []
        for i, (cidr, gateway, vlan) in enumerate(subnets):
            leg = f"r{i}"
            self.wire(switch, vlan, ns, leg)
            with Netlink(ns) as nl:
                nl.add_address(leg, ip_address(gateway), ip_network(cidr).prefixlen)
            legs.append(leg)
        write_sysctl(ns, "net.ipv4.ip_forward", "1" if forward else "0")
        write_sysctl(ns, "net.ipv6.conf.all.forwarding", "1" if forward else "0")
        host = Host(name, ns, tuple(legs))
        self.hosts[name] = host
        return host

    def add_node(
        self, name: str, switch: str, *, vlans: tuple[int, ...] = (0,), node_ip: str | None = None
    ) -> Node:
        """A node with uplink `eth1` (untagged) and `eth1.N` per extra VLAN; `node_ip` goes on eth1."""
        ns = self.add_netns(name)
        ports = {0: self.wire(switch, 0, ns, UPLINK)}
        for vlan in vlans:
            if vlan:
                ports[vlan] = self.wire(switch, vlan, ns, f"{UPLINK}.{vlan}")
        if node_ip:
            iface = ip_interface(node_ip)
            with Netlink(ns) as nl:
                nl.add_address(UPLINK, iface.ip, iface.network.prefixlen)
        node = Node(name, ns, UPLINK, tuple(vlans), ports)
        self.nodes[name] = node
        return node

    def add_legacy_host(
        self, name: str, switch: str, address: str, *, vlan: int = 0, gateway: str | None = None
    ) -> Host:
        """A machine outside the cluster: `eth0` in `vlan` with `address` ("ip/prefix")."""
        ns = self.add_netns(name)
        self.wire(switch, vlan, ns, "eth0")
        iface: IPv4Interface | IPv6Interface = ip_interface(address)
        with Netlink(ns) as nl:
            nl.add_address("eth0", iface.ip, iface.network.prefixlen)
            if gateway:
                gw = ip_address(gateway)
                family = socket.AF_INET if gw.version == 4 else socket.AF_INET6
                nl.add_route(Route(dst=None, oif="eth0", gateway=gw, family=family))
        host = Host(name, ns, ("eth0",))
        self.hosts[name] = host
        return host

    def attach_port(self, switch: str, port: str, vlan: int) -> None:
        """Move switch port `port` into VLAN `vlan`'s bridge (an access port of that VLAN)."""
        sw = self.switches[switch]
        br = self._vlan_bridge(sw, vlan)
        with Netlink(sw.netns) as nl:
            if nl.require(port).master != nl.require(br).index:  # re-enslaving would flush its FDB entries
                nl.set_link(port, master=br)

    def fdb(self, switch: str, vlan: int = 0) -> dict[str, str]:
        """Learned MAC → switch port of VLAN `vlan`'s bridge."""
        with Netlink(self.switches[switch].netns) as nl:
            return nl.fdb(f"b{vlan}")

    # ---- probing -------------------------------------------------------------------------

    def run(self, netns: str, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside `netns` (via `ip netns exec`); never raises on a non-zero exit."""
        return subprocess.run(
            ["ip", "netns", "exec", netns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ping(self, netns: str, target: str, *, count: int = 1, wait: float = 1.0) -> bool:
        """True if `target` answers an ICMP echo from `netns` within `wait` seconds per probe."""
        argv = ["ping", "-n", "-c", str(count), "-W", str(wait), target]
        if ip_address(target).version == 6:
            argv.insert(1, "-6")
        return self.run(netns, *argv, timeout=count * wait + 5).returncode == 0
