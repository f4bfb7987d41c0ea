"""Subnets (L2 domains) and pools: the static model the allocator works over.

A `Subnet` is validated on construction by `fip.core.spec.parse_subnet`; code that builds one
directly must respect the invariants listed on the class. The allocator never walks addresses:
it works on `allocatable()` — a short sorted tuple of disjoint, non-adjacent inclusive integer
intervals — so a subnet of a million addresses costs the same as one of a thousand.

The set arithmetic (ranges minus gateway, network, broadcast, excluded and reserved addresses;
totals; range and CIDR containment) is netaddr's (`IPSet`, `IPRange`, `IPNetwork`). The model's
own types stay `ipaddress` objects, which every other layer speaks, and netaddr's parser is never
used (fip.core.addresses is stricter): values are handed to netaddr as integers with their family.
A subnet computes its address sets once, on first use, and keeps them (a subnet is immutable);
membership is a binary search over the resulting intervals.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

import netaddr

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Intervals = tuple[tuple[int, int], ...]


def na_address(ip: IPAddress) -> netaddr.IPAddress:
    """`ip` as netaddr's type (by value and family: small IPv6 integers stay IPv6)."""
    return netaddr.IPAddress(int(ip), ip.version)


def na_network(net: IPNetwork) -> netaddr.IPNetwork:
    return netaddr.IPNetwork((int(net.network_address), net.prefixlen), version=net.version)


def na_set(ips: Iterable[IPAddress]) -> netaddr.IPSet:
    return netaddr.IPSet(na_address(ip) for ip in ips)


def intervals(ips: netaddr.IPSet) -> Intervals:
    """`ips` as sorted, disjoint, non-adjacent inclusive integer intervals."""
    return tuple((r.first, r.last) for r in ips.iter_ipranges())


def in_intervals(spans: Intervals, starts: tuple[int, ...], n: int) -> bool:
    """Whether `n` lies in `spans` (sorted; `starts` their first elements)."""
    i = bisect.bisect_right(starts, n) - 1
    return i >= 0 and n <= spans[i][1]


@dataclass(frozen=True, order=True, slots=True)
class IPRange:
    """Inclusive range of addresses of one family, start <= end (netaddr refuses any other)."""

    start: IPAddress
    end: IPAddress
    net: netaddr.IPRange = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "net", netaddr.IPRange(na_address(self.start), na_address(self.end)))

    def __len__(self) -> int:
        return int(self.net.size)

    def __contains__(self, ip: object) -> bool:
        return (
            isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and ip.version == self.start.version
            and na_address(ip) in self.net
        )

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"


@dataclass(frozen=True, slots=True)
class _Space:
    """A subnet's address sets, computed once (see `Subnet._space`)."""

    requestable: Intervals
    starts: tuple[int, ...]
    allocatable: Intervals
    total: int


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
    # the computed address sets: one entry once used (not part of the value: not compared, hashed
    # or passed to the constructor, so `dataclasses.replace` starts afresh)
    _derived: list[_Space] = field(default_factory=list, init=False, repr=False, compare=False, hash=False)

    @property
    def family(self) -> int:
        return self.cidr.version

    def _unusable(self) -> set[IPAddress]:
        """Addresses never handed out by any path: the gateway, the network address (IPv6: the
        subnet-router anycast address) and the IPv4 broadcast address. Point-to-point subnets
        (IPv4 /31, RFC 3021; IPv6 /127, RFC 6164) have neither network nor broadcast address."""
        bad = {self.gateway}
        if not point_to_point(self.cidr):
            bad.add(self.cidr.network_address)
            if self.cidr.version == 4:
                bad.add(self.cidr.broadcast_address)
        return bad

    def _space(self) -> _Space:
        """The ranges (or the whole CIDR) minus the unusable and excluded addresses are the
        requestable ones; minus the reserved ones too, the allocatable ones."""
        if self._derived:
            return self._derived[0]
        if self.ranges:
            base = netaddr.IPSet(r.net for r in self.ranges)
        else:
            base = netaddr.IPSet([na_network(self.cidr)])
        requestable = base - na_set(self._unusable() | self.excluded)
        allocatable = requestable - na_set(self.reserved)
        spans = intervals(requestable)
        space = _Space(spans, tuple(a for a, _ in spans), intervals(allocatable), int(requestable.size))
        self._derived.append(space)
        return space

    def allocatable(self) -> Intervals:
        """Sorted inclusive integer intervals handed out to anyone (no reserved IPs)."""
        return self._space().allocatable

    def requestable(self, ip: IPAddress) -> bool:
        """Whether `ip` may be handed out when asked for by address (reserved IPs included)."""
        if ip.version != self.cidr.version or ip not in self.cidr:
            return False
        space = self._space()
        return in_intervals(space.requestable, space.starts, int(ip))

    def total(self) -> int:
        """Addresses fip can ever hand out here: allocatable plus reserved-but-requestable."""
        return self._space().total

    def address(self, n: int) -> IPAddress:
        """The address with integer value `n` in this subnet's family (IPv6 even for small n)."""
        return ipaddress.IPv6Address(n) if self.cidr.version == 6 else ipaddress.IPv4Address(n)


def point_to_point(cidr: IPNetwork) -> bool:
    """IPv4 /31 and /32, IPv6 /127 and /128: every address is a host address."""
    return cidr.prefixlen >= cidr.max_prefixlen - 1


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
