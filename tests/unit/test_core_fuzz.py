"""Fuzzing every parser of outside input: garbage raises InvalidInput and nothing else.

Two kinds of input: arbitrary JSON-like values, and resource-shaped documents whose fields hold
near-miss values (addresses with typos, wrong families, wrong types), which reach the deep checks.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from core_strategies import json_values
from hypothesis import given, settings
from hypothesis import strategies as st

from fip.core.addresses import parse_ip, parse_network, parse_range
from fip.core.errors import InvalidInput
from fip.core.names import check_label_key, check_label_value
from fip.core.owner import OwnerKey
from fip.core.policy import parse_policy, policy_from_annotations
from fip.core.spec import parse_pool, parse_subnet, subnet_to_resource

PIECES = [
    "10",
    "0",
    "1",
    "255",
    "256",
    "010",
    "::",
    ":",
    ".",
    "/",
    "-",
    "~",
    "%",
    "ffff",
    "db8",
    "2001",
    "24",
    " ",
    "a",
]
near_addresses = st.lists(st.sampled_from(PIECES), max_size=10).map("".join)
addresses_like = st.one_of(
    near_addresses,
    st.sampled_from(
        ["10.0.1.0/24", "10.0.1.1", "10.0.1.10-10.0.1.20", "2001:db8::/64", "2001:db8::1", "::ffff:1.2.3.4"]
    ),
    st.ip_addresses().map(str),
)
field_values = st.one_of(
    addresses_like,
    st.lists(addresses_like, max_size=4),
    st.dictionaries(
        st.text(max_size=8), st.one_of(json_values, st.dictionaries(st.text(max_size=8), json_values))
    ),
    json_values,
)
SUBNET_KEYS = ["cidr", "gateway", "vlan", "ranges", "excluded", "reserved", "nodeSelector", "nodeCIDRs", "x"]
POOL_KEYS = ["subnet", "size", "namespaces", "x"]


def refused_or_parsed(parse: Any, value: object) -> None:
    try:
        parse(value)
    except InvalidInput as err:
        assert str(err).isprintable(), "a message must not carry control characters"
        assert err.field is not None


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_json_garbage_is_refused_cleanly(value: object) -> None:
    for parse in (
        parse_subnet,
        parse_pool,
        OwnerKey.decode,
        parse_policy,
        policy_from_annotations,
        lambda v: parse_ip("f", v),
        lambda v: parse_ip("f", v, canonical=False),
        lambda v: parse_network("f", v),
        lambda v: parse_range("f", v),
        lambda v: check_label_key("f", v),
        lambda v: check_label_value("f", v),
    ):
        refused_or_parsed(parse, value)


@settings(max_examples=500, deadline=None)
@given(st.one_of(near_addresses, addresses_like, st.text(max_size=30)))
def test_address_like_text_is_refused_cleanly(text: str) -> None:
    for parse in (parse_ip, parse_network, parse_range):
        refused_or_parsed(lambda v, p=parse: p("f", v), text)
        refused_or_parsed(lambda v, p=parse: p("f", v, canonical=False), text)
    refused_or_parsed(OwnerKey.decode, text)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(SUBNET_KEYS), field_values, max_size=8), json_values)
def test_subnet_shaped_documents_are_refused_cleanly(spec: dict[str, object], status: object) -> None:
    doc = {
        "apiVersion": "fip.io/v1",
        "kind": "Subnet",
        "metadata": {"name": "s"},
        "spec": spec,
        "status": status,
    }
    refused_or_parsed(parse_subnet, doc)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(POOL_KEYS), field_values, max_size=4))
def test_pool_shaped_documents_are_refused_cleanly(spec: dict[str, object]) -> None:
    doc = {"apiVersion": "fip.io/v1", "kind": "Pool", "metadata": {"name": "p"}, "spec": spec}
    refused_or_parsed(parse_pool, doc)


BASES: list[dict[str, object]] = [
    {
        "cidr": "10.0.1.0/24",
        "gateway": "10.0.1.1",
        "ranges": ["10.0.1.10-10.0.1.200"],
        "excluded": ["10.0.1.100"],
        "reserved": ["10.0.1.150"],
        "nodeSelector": {"matchLabels": {"fip.io/l2": "a"}},
    },
    {"cidr": "2001:db8::/120", "gateway": "2001:db8::1", "nodeCIDRs": ["2001:db8:1::/64"]},
]
in_subnet = st.one_of(
    st.integers(-1, 256).map(lambda i: f"10.0.1.{i}"),
    st.integers(0, 300).map(lambda i: f"2001:db8::{i:x}"),  # 2001:db8::0 is not canonical
    st.integers(0, 300).map(lambda i: str(ipaddress.IPv6Address("2001:db8::") + i)),
)
near_values = st.one_of(
    in_subnet,
    st.lists(st.one_of(in_subnet, st.builds(lambda a, b: f"{a}-{b}", in_subnet, in_subnet)), max_size=4),
    st.builds(lambda a, p: f"{a}/{p}", in_subnet, st.integers(0, 130)),
    st.integers(-2, 5000),
    st.dictionaries(
        st.sampled_from(["matchLabels", "matchExpressions"]),
        st.dictionaries(st.text(max_size=6), json_values),
    ),
    field_values,
)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(BASES), st.dictionaries(st.sampled_from(SUBNET_KEYS), near_values, max_size=3))
def test_mutated_valid_subnets_are_refused_or_valid(
    base: dict[str, object], changes: dict[str, object]
) -> None:
    doc = {
        "apiVersion": "fip.io/v1",
        "kind": "Subnet",
        "metadata": {"name": "s"},
        "spec": {**base, **changes},
    }
    try:
        subnet = parse_subnet(doc)
    except InvalidInput as err:
        assert str(err).startswith('Subnet "s": spec') and str(err).isprintable()
    else:  # whatever is accepted meets the model's invariants
        assert subnet.total() > 0
        assert all(subnet.requestable(ip) for ip in subnet.reserved)
        assert parse_subnet(subnet_to_resource(subnet)) == subnet


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(json_values, st.sampled_from(["default", "db"])),
    st.one_of(json_values, st.sampled_from(["Pod", "Deployment", "StatefulSet", "TApp"])),
    st.one_of(json_values, st.sampled_from(["web", "a.b"])),
    st.one_of(json_values, st.integers(-3, 3)),
)
def test_owner_parts_are_refused_cleanly(namespace: Any, kind: Any, name: Any, instance: Any) -> None:
    refused_or_parsed(lambda _: OwnerKey.of(namespace, kind, name, instance), None)
