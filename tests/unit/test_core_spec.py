"""Subnet and Pool resources: validation vectors, canonical round-trip, overlaps, status."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pytest
from core_strategies import pools, subnets
from hypothesis import given, settings

from fip.core.errors import InvalidInput
from fip.core.record import Usage
from fip.core.spec import (
    INT64_MAX,
    check_no_overlap,
    check_pool,
    parse_pool,
    parse_subnet,
    pool_to_resource,
    subnet_status,
    subnet_to_resource,
)
from fip.core.subnet import Pool, Subnet

EXAMPLE: dict[str, Any] = {
    "apiVersion": "fip.io/v1",
    "kind": "Subnet",
    "metadata": {"name": "dc1-a", "uid": "u-1", "resourceVersion": "7"},
    "spec": {
        "cidr": "10.0.1.0/24",
        "gateway": "10.0.1.1",
        "vlan": 0,
        "ranges": ["10.0.1.250", "10.0.1.10-10.0.1.200"],
        "excluded": ["10.0.1.100"],
        "reserved": ["10.0.1.150"],
        "nodeSelector": {"matchLabels": {"fip.io/l2": "dc1-a"}},
        "nodeCIDRs": ["192.168.1.0/24"],
    },
    "status": {"total": "whatever", "free": -1},
}


def with_spec(**changes: object) -> dict[str, Any]:
    obj = copy.deepcopy(EXAMPLE)
    for key, value in changes.items():
        if value is None:
            obj["spec"].pop(key, None)
        else:
            obj["spec"][key] = value
    return obj


def test_example_parses_with_sorted_ranges_and_ignored_status() -> None:
    s = parse_subnet(EXAMPLE)
    assert s.name == "dc1-a" and s.vlan == 0
    assert [str(r) for r in s.ranges] == ["10.0.1.10-10.0.1.200", "10.0.1.250"]
    assert s.total() == 191 + 1 - 1  # 191 in the long range, +1 single, -1 excluded (reserved counts)
    assert s.nodes.match_labels == (("fip.io/l2", "dc1-a"),)
    res = subnet_to_resource(s)
    assert res["spec"]["ranges"] == ["10.0.1.10-10.0.1.200", "10.0.1.250"]
    assert parse_subnet(res) == s


def test_defaults_vlan_zero_and_whole_cidr() -> None:
    s = parse_subnet(with_spec(vlan=None, ranges=None, excluded=None, reserved=None, nodeSelector=None))
    assert s.vlan == 0 and s.ranges == () and s.total() == 253


def test_ipv6_subnet() -> None:
    s = parse_subnet(
        with_spec(
            cidr="2001:db8:1::/64",
            gateway="2001:db8:1::1",
            ranges=["2001:db8:1::100-2001:db8:1::1ff"],
            excluded=["2001:db8:1::100"],
            reserved=["2001:db8:1::150"],
            nodeCIDRs=["2001:db8:ff::/64", "192.168.1.0/24"],
        )
    )
    assert s.family == 6 and s.total() == 255
    assert isinstance(s.address(s.allocatable()[0][0]), ipaddress.IPv6Address)
    assert parse_subnet(subnet_to_resource(s)) == s
    whole = parse_subnet(
        with_spec(cidr="2001:db8:1::/64", gateway="2001:db8:1::1", ranges=None, excluded=None, reserved=None)
    )
    assert whole.total() == 2**64 - 2


# (spec changes, field, fragment of the problem, fragment of the fix)
BAD: list[tuple[dict[str, object], str, str, str]] = [
    ({"cidr": "10.0.1.5/24"}, "spec.cidr", "host bits", "did you mean 10.0.1.0/24?"),
    ({"cidr": "10.0.1.0/024"}, "spec.cidr", "leading zero", "10.0.1.0/24"),
    ({"cidr": "10.0.1.7/32", "gateway": "10.0.1.7"}, "spec.cidr", "single address", "room"),
    ({"cidr": None}, "spec.cidr", "missing", "10.0.1.0/24"),
    ({"gateway": "10.0.2.1"}, "spec.gateway", "outside spec.cidr 10.0.1.0/24", "inside 10.0.1.0/24"),
    ({"gateway": "10.0.1.0"}, "spec.gateway", "network address", "did you mean 10.0.1.1?"),
    ({"gateway": "10.0.1.255"}, "spec.gateway", "broadcast address", "did you mean 10.0.1.1?"),
    ({"gateway": "010.0.1.1"}, "spec.gateway", "leading zero", "10.0.1.1"),
    ({"gateway": "::ffff:10.0.1.1"}, "spec.gateway", "IPv4-mapped", "10.0.1.1"),
    ({"gateway": "2001:db8::1"}, "spec.gateway", "outside spec.cidr", "inside 10.0.1.0/24"),
    ({"gateway": None}, "spec.gateway", "missing", "router"),
    ({"vlan": 4095}, "spec.vlan", "0..4094", "untagged"),
    ({"vlan": -1}, "spec.vlan", "0..4094", "untagged"),
    ({"vlan": True}, "spec.vlan", "0..4094", "untagged"),
    ({"vlan": 1.0}, "spec.vlan", "0..4094", "untagged"),
    ({"vlan": "10"}, "spec.vlan", "0..4094", "untagged"),
    (
        {"ranges": ["10.0.1.10-10.0.1.20", "10.0.2.1"]},
        "spec.ranges[1]",
        "outside spec.cidr",
        "10.0.1.0-10.0.1.255",
    ),
    (
        {"ranges": ["10.0.1.10-10.0.1.20", "10.0.1.20-10.0.1.30"]},
        "spec.ranges[1]",
        "overlaps spec.ranges[0]",
        "disjoint",
    ),
    (
        {"ranges": ["10.0.1.50-10.0.1.90", "10.0.1.10-10.0.1.60"]},
        "spec.ranges[0]",
        "overlaps spec.ranges[1]",
        "disjoint",
    ),
    ({"ranges": ["10.0.1.20-10.0.1.10"]}, "spec.ranges[0]", "ends before it starts", "10.0.1.10-10.0.1.20"),
    ({"ranges": "10.0.1.10-10.0.1.20"}, "spec.ranges", "not a list", "list"),
    ({"ranges": ["10.0.1.1"], "reserved": None, "excluded": None}, "spec.ranges", "no address", "widen"),
    ({"excluded": ["10.0.2.1"]}, "spec.excluded[0]", "outside spec.cidr", "inside"),
    ({"excluded": ["10.0.1.5", "10.0.1.5"]}, "spec.excluded[1]", "listed twice", "once"),
    ({"reserved": ["10.0.1.100"]}, "spec.reserved[0]", "also in spec.excluded", "not both"),
    ({"reserved": ["10.0.1.1"], "ranges": None}, "spec.reserved[0]", "gateway", "remove"),
    ({"reserved": ["10.0.1.5"]}, "spec.reserved[0]", "outside spec.ranges", "add it to a range"),
    ({"reserved": ["10.0.1.0"], "ranges": None}, "spec.reserved[0]", "network address", "remove"),
    ({"reserved": ["10.0.1.255"], "ranges": None}, "spec.reserved[0]", "broadcast address", "remove"),
    ({"nodeSelector": None, "nodeCIDRs": None}, "spec.nodeSelector", "no nodes", "nodeCIDRs"),
    (
        {"nodeSelector": {"matchLabels": {}}, "nodeCIDRs": None},
        "spec.nodeSelector",
        "selects no nodes",
        "label",
    ),
    (
        {"nodeSelector": {"matchExpressions": []}},
        "spec.nodeSelector.matchExpressions",
        "not supported",
        "matchLabels",
    ),
    (
        {"nodeSelector": {"matchLabel": {}}},
        "spec.nodeSelector.matchLabel",
        "not a nodeSelector field",
        "matchLabels?",
    ),
    (
        {"nodeSelector": {"matchLabels": {"bad key!": "x"}}},
        "spec.nodeSelector.matchLabels",
        "label key",
        "63",
    ),
    (
        {"nodeSelector": {"matchLabels": {"a": "-x"}}},
        'spec.nodeSelector.matchLabels["a"]',
        "label value",
        "63",
    ),
    (
        {"nodeSelector": {"matchLabels": {"a": 1}}},
        'spec.nodeSelector.matchLabels["a"]',
        "label value",
        "string",
    ),
    ({"nodeCIDRs": ["192.168.1.7/24"]}, "spec.nodeCIDRs[0]", "host bits", "did you mean 192.168.1.0/24?"),
    ({"nodeCIDRs": ["192.168.1.0/24", "192.168.1.0/24"]}, "spec.nodeCIDRs[1]", "listed twice", "once"),
    ({"nodeSelecter": {}}, "spec.nodeSelecter", "not a Subnet field", "did you mean nodeSelector?"),
    ({"ips": ["10.0.1.3"]}, "spec.ips", "not a Subnet field", "known fields are"),
]


@pytest.mark.parametrize(("changes", "field", "problem", "fix"), BAD)
def test_rejections_name_field_value_and_fix(
    changes: dict[str, object], field: str, problem: str, fix: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_subnet(with_spec(**changes))
    e = err.value
    assert (e.field, problem in e.problem, fix in e.fix) == (field, True, True), str(e)
    assert str(e).startswith(f'Subnet "dc1-a": {field}: ')


@pytest.mark.parametrize(
    ("obj", "field", "fix"),
    [
        ([], "Subnet", "apiVersion fip.io/v1"),
        ({**EXAMPLE, "apiVersion": "v1"}, "apiVersion", "fip.io/v1"),
        ({**EXAMPLE, "kind": "Pool"}, "kind", "kind: Subnet"),
        ({**EXAMPLE, "metadata": {}}, "metadata.name", "DNS-1123"),
        ({**EXAMPLE, "metadata": {"name": "DC1_A"}}, "metadata.name", "lower-case"),
        ({**EXAMPLE, "metadata": "dc1-a"}, "metadata", "name"),
        ({k: v for k, v in EXAMPLE.items() if k != "spec"}, "spec", "Subnet spec"),
        ({**EXAMPLE, "spec": ["cidr"]}, "spec", "mapping"),
        ({**EXAMPLE, "data": {}}, "data", "known fields"),
    ],
)
def test_envelope_rejections(obj: object, field: str, fix: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_subnet(obj)
    assert err.value.field == field and fix in err.value.fix, str(err.value)


def test_point_to_point_gateway_may_be_either_address() -> None:
    s = parse_subnet(
        with_spec(cidr="10.0.1.0/31", gateway="10.0.1.0", ranges=None, excluded=None, reserved=None)
    )
    assert s.total() == 1


@settings(max_examples=200, deadline=None)
@given(subnets())
def test_resource_round_trip(subnet: Subnet) -> None:
    res = subnet_to_resource(subnet)
    assert parse_subnet(res) == subnet
    assert subnet_to_resource(parse_subnet(res)) == res


def _sub(name: str, cidr: str) -> Subnet:
    net = ipaddress.ip_network(cidr)
    return Subnet(name, net, net[1])


def test_overlapping_subnets_are_named_both() -> None:
    check_no_overlap([_sub("a", "10.0.0.0/24"), _sub("b", "10.0.1.0/24"), _sub("c", "2001:db8::/64")])
    check_no_overlap([])
    with pytest.raises(InvalidInput) as err:
        check_no_overlap([_sub("a", "10.0.0.0/16"), _sub("z", "10.1.0.0/24"), _sub("b", "10.0.7.0/24")])
    msg = str(err.value)
    assert 'Subnet "b"' in msg and 'Subnet "a"' in msg and "10.0.0.0/16" in msg and "10.0.7.0/24" in msg
    assert "own CIDR" in msg
    with pytest.raises(InvalidInput, match='overlaps 2001:db8::/64 of Subnet "v6a"'):
        check_no_overlap([_sub("v6a", "2001:db8::/64"), _sub("v6b", "2001:db8::/64")])
    with pytest.raises(InvalidInput, match="names two subnets"):
        check_no_overlap([_sub("a", "10.0.0.0/24"), _sub("a", "10.0.1.0/24")])


@settings(max_examples=100, deadline=None)
@given(subnets(), subnets())
def test_overlap_check_agrees_with_ipaddress(a: Subnet, b: Subnet) -> None:
    b = Subnet(b.name + "-b", b.cidr, b.gateway)
    a = Subnet(a.name + "-a", a.cidr, a.gateway)
    if a.cidr.version == b.cidr.version and a.cidr.overlaps(b.cidr):
        with pytest.raises(InvalidInput):
            check_no_overlap([a, b])
    else:
        check_no_overlap([a, b])


POOL = {
    "apiVersion": "fip.io/v1",
    "kind": "Pool",
    "metadata": {"name": "db-pool"},
    "spec": {"subnet": "dc1-a", "size": 10, "namespaces": ["db", "payments"]},
}


def test_pool_parses_and_round_trips() -> None:
    p = parse_pool(POOL)
    assert p == Pool("db-pool", "dc1-a", 10, frozenset({"db", "payments"}))
    assert pool_to_resource(p)["spec"] == {"subnet": "dc1-a", "size": 10, "namespaces": ["db", "payments"]}
    closed = parse_pool({**POOL, "spec": {"subnet": "dc1-a", "size": 1}})
    assert closed.namespaces == frozenset() and not closed.allows("db")


@settings(max_examples=200, deadline=None)
@given(pools)
def test_pool_round_trip(pool: Pool) -> None:
    assert parse_pool(pool_to_resource(pool)) == pool


@pytest.mark.parametrize(
    ("spec", "field", "fix"),
    [
        ({"subnet": "dc1-a", "size": 0}, "spec.size", "at least 1"),
        ({"subnet": "dc1-a", "size": True}, "spec.size", "at least 1"),
        ({"subnet": "dc1-a"}, "spec.size", "most IPs"),
        ({"size": 3}, "spec.subnet", "Subnet"),
        ({"subnet": "DC1", "size": 3}, "spec.subnet", "lower-case"),
        ({"subnet": "dc1-a", "size": 3, "namespaces": ["db", "db"]}, "spec.namespaces[1]", "once"),
        ({"subnet": "dc1-a", "size": 3, "namespaces": ["Db"]}, "spec.namespaces[0]", "lower-case"),
        ({"subnet": "dc1-a", "size": 3, "namespaces": "db"}, "spec.namespaces", "list"),
        ({"subnet": "dc1-a", "size": 3, "namespace": ["db"]}, "spec.namespace", "did you mean namespaces?"),
    ],
)
def test_pool_rejections(spec: dict[str, object], field: str, fix: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_pool({**POOL, "spec": spec})
    assert err.value.field == field and fix in err.value.fix, str(err.value)
    assert str(err.value).startswith(f'Pool "db-pool": {field}: ')


def test_check_pool_against_subnets() -> None:
    s = parse_subnet(EXAMPLE)
    check_pool(Pool("p", "dc1-a", s.total()), {"dc1-a": s})
    with pytest.raises(InvalidInput, match=r'exceeds the 191 addresses of Subnet "dc1-a"; give at most 191'):
        check_pool(Pool("p", "dc1-a", 192), {"dc1-a": s})
    with pytest.raises(InvalidInput, match="name one of: dc1-a"):
        check_pool(Pool("p", "dc9", 1), {"dc1-a": s})


def test_status_is_capped_at_int64() -> None:
    assert subnet_status(Usage("a", 10, 3, 2)) == {"total": 10, "allocated": 3, "reserved": 2, "free": 5}
    big = subnet_status(Usage("v6", 2**64 - 2, 1, 0))
    assert big == {"total": INT64_MAX, "allocated": 1, "reserved": 0, "free": INT64_MAX}
