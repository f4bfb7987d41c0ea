"""Subnets (L2 domains) and pools: the static model the allocator works over.

A `Subnet` is validated on construction by `fip.core.spec.parse_subnet`; code that builds one
directly must respect the invariants listed on the class. The allocator never walks addresses:
it works on `allocatable()` — a short sorted tuple of disjoint, non-adjacent inclusive integer
intervals — so a subnet of a million addresses costs the same as one of a thousand.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, order=True, slots=True)
class IPRange:
    """Inclusive range of addresses of one family, start <= end."""

    start: IPAddress
    end: IPAddress

    def __len__(self) -> int:
        return int(self.end) - int(self.start) + 1

    def __contains__(self, ip: object) -> bool:
        return (
            isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and ip.version == self.start.version
            and int(self.start) <= int(ip) <= int(self.end)
        )

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"


@dataclass(frozen=True, slots=True)
class NodeSelection:
    """Which nodes sit in a subnet: by labels (all must match) and/or by node-IP CIDRs.

    A node is in the subnet when it matches the label selector (if any) and its InternalIP lies
    in one of `node_cidrs` (if any). Galaxy's `nodeSubnets` maps to `node_cidrs`.
    """

    match_labels: tuple[tuple[str, str], ...] = ()
    node_cidrs: tuple[IPNetwork, ...] = ()

    def matches(self, labels: dict[str, str], node_ips: tuple[IPAddress, ...] = ()) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        if self.node_cidrs:
            return any(ip in net for ip in node_ips for net in self.node_cidrs if ip.version == net.version)
        return bool(self.match_labels)


@dataclass(frozen=True, slots=True)
class Subnet:
    """One L2 domain whose addresses fip hands out.

    Invariants (enforced by `fip.core.spec.parse_subnet`): `cidr` has no host bits and at least
    two addresses; gateway, ranges, excluded and reserved lie inside `cidr` and in its family;
    the gateway is not the network (or IPv4 broadcast) address; ranges are sorted and disjoint;
    reserved IPs lie in the ranges and are neither excluded nor the gateway; vlan is 0
    (untagged) or 1..4094; `total() > 0`; nodes are named by labels and/or node CIDRs.
    Reserved IPs are never handed out unless asked for by address. IPv4 and IPv6 work alike;
    integer forms of IPv6 addresses exceed 64 bits, which Python ints carry exactly.
    """

    name: str
    cidr: IPNetwork
    gateway: IPAddress
    vlan: int = 0
    ranges: tuple[IPRange, ...] = ()
    excluded: frozenset[IPAddress] = frozenset()
    reserved: frozenset[IPAddress] = frozenset()
    nodes: NodeSelection = field(default_factory=NodeSelection)

    @property
    def family(self) -> int:
        return self.cidr.version

    def _unusable(self) -> set[int]:
        """Addresses never handed out by any path: the gateway, the network address (IPv6: the
        subnet-router anycast address) and the IPv4 broadcast address. Point-to-point subnets
        (IPv4 /31, RFC 3021; IPv6 /127, RFC 6164) have neither network nor broadcast address."""
        bad = {int(self.gateway)}
        if not point_to_point(self.cidr):
            bad.add(int(self.cidr.network_address))
            if self.cidr.version == 4:
                bad.add(int(self.cidr.broadcast_address))
        return bad

    def _base_intervals(self) -> list[tuple[int, int]]:
        if self.ranges:
            return [(int(r.start), int(r.end)) for r in self.ranges]
        return [(int(self.cidr.network_address), int(self.cidr.broadcast_address))]

    def allocatable(self) -> tuple[tuple[int, int], ...]:
        """Sorted inclusive integer intervals handed out to anyone (no reserved IPs)."""
        holes = sorted(self._unusable() | {int(i) for i in self.excluded | self.reserved})
        return _subtract(self._base_intervals(), holes)

    def requestable(self, ip: IPAddress) -> bool:
        """Whether `ip` may be handed out when asked for by address (reserved IPs included)."""
        if ip.version != self.cidr.version or ip not in self.cidr:
            return False
        n = int(ip)
        if n in self._unusable() or ip in self.excluded:
            return False
        return any(a <= n <= b for a, b in self._base_intervals())

    def total(self) -> int:
        """Addresses fip can ever hand out here: allocatable plus reserved-but-requestable."""
        free = sum(b - a + 1 for a, b in self.allocatable())
        return free + sum(1 for ip in self.reserved if self.requestable(ip))

    def address(self, n: int) -> IPAddress:
        """The address with integer value `n` in this subnet's family (IPv6 even for small n)."""
        return ipaddress.IPv6Address(n) if self.cidr.version == 6 else ipaddress.IPv4Address(n)


def point_to_point(cidr: IPNetwork) -> bool:
    """IPv4 /31 and /32, IPv6 /127 and /128: every address is a host address."""
    return cidr.prefixlen >= cidr.max_prefixlen - 1


def _subtract(intervals: list[tuple[int, int]], holes: list[int]) -> tuple[tuple[int, int], ...]:
    """Remove sorted single addresses from sorted disjoint intervals; O(intervals + holes).
    Adjacent pieces are merged, so the result is the unique shortest interval form."""
    out: list[tuple[int, int]] = []

    def emit(a: int, b: int) -> None:
        if out and out[-1][1] + 1 == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))

    hi = 0
    for a, b in sorted(intervals):
        start = a
        while hi < len(holes) and holes[hi] < a:
            hi += 1
        while hi < len(holes) and holes[hi] <= b:
            h = holes[hi]
            if h > start:
                emit(start, h - 1)
            start = h + 1
            hi += 1
        if start <= b:
            emit(start, b)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Pool:
    """A named, capped set of IPs in one subnet, usable only from `namespaces`.

    A pool lives in exactly one subnet so its cap is checked in the same atomic step as the
    allocation (every store operation touches one subnet; see ARCHITECTURE "Scale-out").
    An empty `namespaces` means no namespace may use it: access is always explicit.
    """

    name: str
    subnet: str
    size: int
    namespaces: frozenset[str] = frozenset()

    def allows(self, namespace: str) -> bool:
        return namespace in self.namespaces or "*" in self.namespaces
