"""Subnet model properties: allocatable intervals, totals, IPv6, point-to-point, node selection."""

from __future__ import annotations

import ipaddress
import itertools

from core_strategies import subnets
from hypothesis import given, settings

from fip.core.subnet import IPAddress, IPRange, NodeSelection, Pool, Subnet


def _handed_out(subnet: Subnet, ip: IPAddress) -> bool:
    """Brute-force statement of the rules: in a range (or the CIDR), not gateway, excluded,
    network or IPv4 broadcast (except on point-to-point /31 and /127)."""
    cidr = subnet.cidr
    p2p = cidr.prefixlen >= cidr.max_prefixlen - 1
    if ip == subnet.gateway or ip in subnet.excluded:
        return False
    if not p2p and (ip == cidr.network_address or (cidr.version == 4 and ip == cidr.broadcast_address)):
        return False
    return not subnet.ranges or any(ip in r for r in subnet.ranges)


@settings(max_examples=200, deadline=None)
@given(subnets(max_host_bits=9))
def test_allocatable_matches_brute_force(subnet: Subnet) -> None:
    intervals = subnet.allocatable()
    for (_, b), (c, _) in itertools.pairwise(intervals):
        assert b + 1 < c, "intervals must be sorted, disjoint and not adjacent-mergeable by a hole"
    assert all(a <= b for a, b in intervals)
    listed = {n for a, b in intervals for n in range(a, b + 1)}
    expected = {int(ip) for ip in subnet.cidr if _handed_out(subnet, ip) and ip not in subnet.reserved}
    assert listed == expected
    assert int(subnet.gateway) not in listed
    assert not listed & {int(ip) for ip in subnet.excluded | subnet.reserved}
    every = {int(ip) for ip in subnet.cidr if _handed_out(subnet, ip)}
    assert subnet.total() == len(every)
    for ip in subnet.cidr:
        assert subnet.requestable(ip) == (int(ip) in every)


@settings(max_examples=50, deadline=None)
@given(subnets(family=6, max_host_bits=8))
def test_ipv6_addresses_stay_ipv6(subnet: Subnet) -> None:
    for a, b in subnet.allocatable():
        assert isinstance(subnet.address(a), ipaddress.IPv6Address)
        assert subnet.address(b) in subnet.cidr


def test_ipv6_slash_64_totals_are_exact_and_cheap() -> None:
    cidr = ipaddress.IPv6Network("2001:db8:1::/64")
    gw = ipaddress.IPv6Address("2001:db8:1::1")
    s = Subnet("v6", cidr, gw, nodes=NodeSelection(node_cidrs=(cidr,)))
    assert s.total() == 2**64 - 2  # minus the subnet-router anycast address and the gateway
    assert s.allocatable() == ((int(cidr[2]), int(cidr[-1])),)
    assert s.address(int(cidr[2])) == ipaddress.IPv6Address("2001:db8:1::2")


def test_small_integer_ipv6_is_not_confused_with_ipv4() -> None:
    cidr = ipaddress.IPv6Network("::100/120")
    s = Subnet("low", cidr, cidr[1])
    assert s.address(int(cidr[5])) == ipaddress.IPv6Address("::105")


def test_point_to_point_subnets_use_both_addresses() -> None:
    v4 = Subnet("p2p", ipaddress.IPv4Network("10.0.0.0/31"), ipaddress.IPv4Address("10.0.0.1"))
    assert v4.allocatable() == ((int(ipaddress.IPv4Address("10.0.0.0")),) * 2,)
    v6 = Subnet("p2p6", ipaddress.IPv6Network("2001:db8::/127"), ipaddress.IPv6Address("2001:db8::"))
    assert v6.total() == 1
    assert v6.requestable(ipaddress.IPv6Address("2001:db8::1"))


def test_v4_slash_24_excludes_network_broadcast_gateway_and_holes() -> None:
    s = Subnet(
        "dc1-a",
        ipaddress.IPv4Network("10.0.1.0/24"),
        ipaddress.IPv4Address("10.0.1.1"),
        excluded=frozenset({ipaddress.IPv4Address("10.0.1.100")}),
        reserved=frozenset({ipaddress.IPv4Address("10.0.1.150")}),
    )
    assert s.total() == 256 - 4
    assert s.requestable(ipaddress.IPv4Address("10.0.1.150"))
    assert not s.requestable(ipaddress.IPv4Address("10.0.1.100"))
    assert not s.requestable(ipaddress.IPv4Address("10.0.2.5"))
    assert not s.requestable(ipaddress.IPv6Address("::a00:105"))


def test_range_membership_and_text() -> None:
    r = IPRange(ipaddress.IPv4Address("10.0.1.10"), ipaddress.IPv4Address("10.0.1.20"))
    assert len(r) == 11 and str(r) == "10.0.1.10-10.0.1.20"
    assert ipaddress.IPv4Address("10.0.1.15") in r
    assert ipaddress.IPv6Address("::a00:10f") not in r
    assert "10.0.1.15" not in r


def test_node_selection() -> None:
    by_label = NodeSelection(match_labels=(("fip.io/l2", "a"),))
    assert by_label.matches({"fip.io/l2": "a", "x": "y"})
    assert not by_label.matches({"fip.io/l2": "b"})
    by_ip = NodeSelection(node_cidrs=(ipaddress.ip_network("192.168.1.0/24"),))
    assert by_ip.matches({}, (ipaddress.ip_address("192.168.1.7"),))
    assert not by_ip.matches({}, (ipaddress.ip_address("192.168.2.7"), ipaddress.ip_address("::1")))
    both = NodeSelection((("z", "1"),), (ipaddress.ip_network("192.168.1.0/24"),))
    assert not both.matches({"z": "2"}, (ipaddress.ip_address("192.168.1.7"),))
    assert not NodeSelection().matches({"anything": "x"})


def test_pool_access_is_explicit() -> None:
    assert not Pool("p", "s", 3).allows("default")
    assert Pool("p", "s", 3, frozenset({"db"})).allows("db")
    assert Pool("p", "s", 3, frozenset({"*"})).allows("anything")
