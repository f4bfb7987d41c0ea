"""Hypothesis strategies for the core model: valid subnets, owner keys, names, JSON-like garbage."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from fip.core.owner import OwnerKey, OwnerKind
from fip.core.subnet import IPRange, NodeSelection, Pool, Subnet

dns_labels = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?\Z")
subdomains = st.builds(".".join, st.lists(dns_labels, min_size=1, max_size=3))
label_keys = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?\Z"),
    st.builds(
        lambda p, n: f"{p}/{n}", subdomains, st.from_regex(r"\A[A-Za-z0-9]([-_.a-z]{0,5}[A-Za-z0-9])?\Z")
    ),
)
label_values = st.from_regex(r"\A(([A-Za-z0-9][-A-Za-z0-9_.]{0,8})?[A-Za-z0-9])?\Z")

_V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))


@st.composite
def owner_keys(draw: st.DrawFn) -> OwnerKey:
    kind = draw(st.sampled_from(list(OwnerKind)))
    instance = None
    if kind in (OwnerKind.STATEFULSET, OwnerKind.TAPP):
        instance = draw(st.integers(0, 10**9 - 1))
    return OwnerKey.of(draw(dns_labels), kind, draw(subdomains), instance)


@st.composite
def subnets(draw: st.DrawFn, family: int | None = None, max_host_bits: int = 10) -> Subnet:
    """A valid subnet of 2..2**max_host_bits addresses, as parse_subnet would return it."""
    version = draw(st.sampled_from([4, 6])) if family is None else family
    bits = 32 if version == 4 else 128
    host_bits = draw(st.integers(1, max_host_bits))
    # IPv6 inside 2001:db8::/32: never IPv4-mapped
    base = draw(st.integers(0, 2**32 - 1)) if version == 4 else _V6_BASE | draw(st.integers(0, 2**96 - 1))
    base = base >> host_bits << host_bits
    cidr = ipaddress.ip_network((base, bits - host_bits))
    size = 2**host_bits
    p2p = host_bits == 1
    low, high = (0, size - 1) if p2p else (1, size - 1 if version == 6 else size - 2)
    gateway = cidr[draw(st.integers(low, high))]
    spans = draw(st.lists(st.tuples(st.integers(0, size - 1), st.integers(0, size - 1)), max_size=4))
    ranges: list[IPRange] = []
    for a, b in sorted((min(a, b), max(a, b)) for a, b in spans):
        if not ranges or a > int(ranges[-1].end) - base:
            ranges.append(IPRange(cidr[a], cidr[b]))
    offsets = st.integers(0, size - 1)
    excluded = {cidr[i] for i in draw(st.lists(offsets, max_size=6))}
    in_ranges = [ip for ip in (cidr[i] for i in draw(st.lists(offsets, max_size=6))) if ip != gateway]
    reserved = {ip for ip in in_ranges if ip not in excluded and (not ranges or any(ip in r for r in ranges))}
    labels = draw(st.dictionaries(label_keys, label_values, max_size=3))
    node_cidrs = draw(
        st.lists(
            st.sampled_from(
                [
                    ipaddress.ip_network("192.168.1.0/24"),
                    ipaddress.ip_network("10.9.0.0/16"),
                    ipaddress.ip_network("2001:db8:ff::/64"),
                ]
            ),
            unique=True,
            max_size=2,
        )
    )
    assume(labels or node_cidrs)
    subnet = Subnet(
        name=draw(subdomains),
        cidr=cidr,
        gateway=gateway,
        vlan=draw(st.integers(0, 4094)),
        ranges=tuple(ranges),
        excluded=frozenset(excluded),
        reserved=frozenset(reserved),
        nodes=NodeSelection(
            tuple(sorted(labels.items())),
            tuple(sorted(node_cidrs, key=lambda n: (n.version, int(n.network_address)))),
        ),
    )
    # reserved addresses that could never be handed out (network, broadcast) are invalid
    subnet = dataclasses.replace(subnet, reserved=frozenset(ip for ip in reserved if subnet.requestable(ip)))
    assume(subnet.total() > 0)
    return subnet


pools = st.builds(
    Pool,
    name=subdomains,
    subnet=subdomains,
    size=st.integers(1, 2**63 - 1),
    namespaces=st.frozensets(st.one_of(dns_labels, st.just("*")), max_size=4),
)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40)
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
