"""Address parsers against KEP-4858-style vectors: every rejection names field, value and fix."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fip.core.addresses import parse_ip, parse_network, parse_range
from fip.core.errors import InvalidInput
from fip.core.subnet import IPRange

GOOD_IPS = [
    "10.0.1.17",
    "0.0.0.0",
    "255.255.255.255",
    "2001:db8::17",
    "::1",
    "::",
    "fe80::1",
    "2001:db8:0:1::",
]


@pytest.mark.parametrize("text", GOOD_IPS)
def test_good_addresses_parse_to_their_canonical_self(text: str) -> None:
    assert str(parse_ip("f", text)) == text


# (value, fragment of the problem, fragment of the fix)
BAD_IPS: list[tuple[object, str, str]] = [
    ("010.0.1.1", "leading zero", "10.0.1.1"),
    ("10.0.01.1", "leading zero", "10.0.1.1"),
    ("10.00.1.1", "leading zero", "10.0.1.1"),
    ("::ffff:10.0.1.1", "IPv4-mapped", "10.0.1.1"),
    ("::ffff:a00:101", "IPv4-mapped", "10.0.1.1"),
    ("fe80::1%eth0", "zone id", "fe80::1"),
    ("10.0.1.1%2", "zone id", "10.0.1.1"),
    ("2001:DB8::1", "canonical", "2001:db8::1"),
    ("2001:db8:0:0::1", "canonical", "2001:db8::1"),
    ("2001:0db8::1", "canonical", "2001:db8::1"),
    ("::10.0.1.1", "canonical", "::a00:101"),
    ("2001:db8:0:0:1:0:0:1", "canonical", "2001:db8::1:0:0:1"),
    (" 10.0.1.1", "whitespace", '"10.0.1.1"'),
    ("10.0.1.1\n", "whitespace", '"10.0.1.1"'),
    ("", "empty", "e.g."),
    ("10.0.1.0/24", "network, not an address", "10.0.1.0"),
    ("10.0.1", "not an IP address", "e.g."),
    ("10.0.1.256", "above 255", "e.g."),
    ("1.2.3.4.5", "not an IP address", "e.g."),
    ("0x0a.0.1.1", "not an IP address", "e.g."),
    ("\u0661\u0660.0.1.1", "not an IP address", "e.g."),
    ("2001:db8::g", "not an IP address", "e.g."),
    ("2001:db8:::1", "not an IPv6 address", "e.g."),
    (167772417, "is not an IP address", "as a string"),
    (None, "is not an IP address", "as a string"),
    (b"10.0.1.1", "is not an IP address", "as a string"),
]


def test_non_canonical_ipv6_is_normalised_only_on_request() -> None:
    assert parse_ip("f", "2001:DB8:0::1", canonical=False) == ipaddress.IPv6Address("2001:db8::1")
    with pytest.raises(InvalidInput, match="zone"):
        parse_ip("f", "fe80::1%eth0", canonical=False)
    with pytest.raises(InvalidInput, match="IPv4-mapped"):
        parse_ip("f", "::FFFF:10.0.1.1", canonical=False)


@pytest.mark.parametrize(
    "text", ["10.0.1.0/24", "0.0.0.0/0", "10.0.1.7/32", "2001:db8:1::/64", "::/0", "fe80::/10"]
)
def test_good_networks(text: str) -> None:
    assert str(parse_network("spec.cidr", text)) == text


BAD_NETWORKS: list[tuple[object, str, str]] = [
    ("10.0.1.5/24", "host bits", "did you mean 10.0.1.0/24?"),
    ("2001:db8::1/64", "host bits", "did you mean 2001:db8::/64?"),
    ("10.0.1.0/024", "leading zero", "10.0.1.0/24"),
    ("10.0.1.0/255.255.255.0", "netmask", "10.0.1.0/24"),
    ("10.0.1.0/255.0.255.0", "netmask", "prefix length 0..32"),
    ("10.0.1.0/33", "above 32", "0..32"),
    ("2001:db8::/129", "above 128", "0..128"),
    ("10.0.1.0/", "empty prefix", "e.g."),
    ("10.0.1.0/+24", "invalid prefix", "0..32"),
    ("10.0.1.0", "no prefix length", "10.0.1.0/32"),
    ("2001:db8::", "no prefix length", "2001:db8::/128"),
    ("010.0.1.0/24", "leading zero", "10.0.1.0"),
    ("::ffff:10.0.1.0/120", "IPv4-mapped", "10.0.1.0"),
    ("fe80::%eth0/64", "zone id", "fe80::"),
    ("2001:DB8::/32", "canonical", "2001:db8::"),
    ("10.0.1.0/24 ", "whitespace", '"10.0.1.0/24"'),
    ("10.0.1.0/24/8", "invalid prefix", "0..32"),
    ([], "not a network", "as a string"),
]


def test_ranges() -> None:
    a, b = ipaddress.ip_address("10.0.1.10"), ipaddress.ip_address("10.0.1.200")
    assert parse_range("r", "10.0.1.10-10.0.1.200") == IPRange(a, b)
    assert parse_range("r", "10.0.1.10") == IPRange(a, a)
    assert parse_range("r", "10.0.1.10-10.0.1.10") == IPRange(a, a)
    six = parse_range("r", "2001:db8::10-2001:db8::ff")
    assert len(six) == 0xFF - 0x10 + 1


BAD_RANGES: list[tuple[object, str, str]] = [
    ("10.0.1.200-10.0.1.10", "ends before it starts", "10.0.1.10-10.0.1.200"),
    ("10.0.1.10~10.0.1.20", "Galaxy", "10.0.1.10-10.0.1.20"),
    ("10.0.1.10-2001:db8::1", "mixes IPv4 and IPv6", "same family"),
    ("10.0.1.10-", "empty address", "full address"),
    ("10.0.1.1-10.0.1.2-10.0.1.3", "not an address range", "one start-end pair"),
    ("10.0.1.010-10.0.1.20", "leading zero", "10.0.1.10"),
    ("10.0.1.0/24", "network, not an address", "10.0.1.0"),
    ("10.0.1.10 - 10.0.1.20", "whitespace", '"10.0.1.10-10.0.1.20"'),
    (7, "not an address range", "as a string"),
]


# Every parser's refusals, each under the field a Subnet would give it.
REFUSALS: list[tuple[Callable[[str, object], object], str, object, str, str]] = [
    *((parse_ip, "spec.gateway", *case) for case in BAD_IPS),
    *((parse_network, "spec.cidr", *case) for case in BAD_NETWORKS),
    *((parse_range, "spec.ranges[1]", *case) for case in BAD_RANGES),
]


@pytest.mark.parametrize(("parse", "field", "value", "problem", "fix"), REFUSALS)
def test_bad_input_is_rejected_with_field_value_and_fix(
    parse: Callable[[str, object], object], field: str, value: object, problem: str, fix: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        parse(field, value)
    msg = str(err.value)
    assert msg.startswith(f"{field}: ")
    assert err.value.field == field
    assert err.value.value == value
    assert problem in err.value.problem
    assert fix in err.value.fix
    assert fix in msg and problem in msg


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
def test_every_canonical_address_round_trips(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        with pytest.raises(InvalidInput):
            parse_ip("f", str(ip))
    else:
        assert parse_ip("f", str(ip)) == ip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), st.integers(0, 128))
def test_networks_accept_exactly_the_network_form(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, p: int
) -> None:
    prefix = p % (ip.max_prefixlen + 1)
    net = ipaddress.ip_network((ip, prefix), strict=False)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return
    text = f"{ip}/{prefix}"
    if net.network_address == ip:
        assert parse_network("f", text) == net
    else:
        with pytest.raises(InvalidInput, match=f"did you mean {net}"):
            parse_network("f", text)
