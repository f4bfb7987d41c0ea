"""fip.core.annotation: the fip.io/allocation annotation, strict both ways."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fip.core import annotation
from fip.core.annotation import Allocation
from fip.core.errors import InvalidInput
from fip.core.owner import OwnerKey

GOOD = {
    "ip": "10.0.1.17",
    "prefix": 24,
    "gateway": "10.0.1.1",
    "vlan": 0,
    "subnet": "dc1-a",
    "owner": "default/StatefulSet/web/0",
}


def text(**over: object) -> str:
    return json.dumps({**GOOD, **over}, separators=(",", ":"))


def test_parses_the_contract_example() -> None:
    a = annotation.parse(text())
    assert a.ip == ipaddress.IPv4Address("10.0.1.17")
    assert (a.prefix, a.vlan, a.subnet) == (24, 0, "dc1-a")
    assert a.owner == OwnerKey.of("default", "StatefulSet", "web", 0)
    assert str(a.network) == "10.0.1.0/24"
    assert a.encode() == text()


def test_ipv6() -> None:
    a = annotation.parse(text(ip="2001:db8:1::17", prefix=64, gateway="2001:db8:1::1", vlan=100))
    assert a.ip.version == 6
    assert annotation.parse(a.encode()) == a


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"ip": "010.0.1.17"}, "ip"),
        ({"ip": "10.0.1.17/24"}, "ip"),
        ({"ip": "::ffff:10.0.1.17", "gateway": "::ffff:10.0.1.1"}, "ip"),
        ({"ip": "2001:DB8:1::17", "gateway": "2001:db8:1::1", "prefix": 64}, "ip"),
        ({"ip": 167772433}, "ip"),
        ({"gateway": "10.0.2.1"}, "gateway"),
        ({"gateway": "10.0.1.17"}, "gateway"),
        ({"gateway": "2001:db8::1"}, "gateway"),
        ({"ip": "10.0.1.0"}, "ip"),
        ({"ip": "10.0.1.255"}, "ip"),
        ({"ip": "127.0.0.5", "gateway": "127.0.0.1", "prefix": 8}, "ip"),
        ({"prefix": 0}, "prefix"),
        ({"prefix": 33}, "prefix"),
        ({"prefix": "24"}, "prefix"),
        ({"prefix": True}, "prefix"),
        ({"vlan": 4095}, "vlan"),
        ({"vlan": -1}, "vlan"),
        ({"subnet": "DC1_A"}, "subnet"),
        ({"owner": "default/StatefulSet/web"}, "owner.instance"),
        ({"owner": "a/b"}, "owner"),
    ],
)
def test_rejections_name_the_field(over: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        annotation.parse(text(**over))
    assert info.value.field == f"annotation fip.io/allocation.{field}"


@pytest.mark.parametrize(
    "value",
    [
        None,
        5,
        "",
        "{",
        "[]",
        '"x"',
        json.dumps({k: v for k, v in GOOD.items() if k != "vlan"}),
        text(extra=1),
        "x" * 2000,
    ],
)
def test_shape_rejections(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        annotation.parse(value)
    assert str(info.value).startswith("annotation fip.io/allocation")


def test_missing_key_message_lists_it() -> None:
    with pytest.raises(InvalidInput, match="lacks vlan"):
        annotation.parse(json.dumps({k: v for k, v in GOOD.items() if k != "vlan"}))


owners = st.builds(
    OwnerKey.of,
    st.sampled_from(["default", "db", "payments"]),
    st.sampled_from(["Pod", "Deployment"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True),
)


@st.composite
def allocations(draw: st.DrawFn) -> Allocation:
    if draw(st.booleans()):
        prefix = draw(st.integers(8, 30))
        net: ipaddress.IPv4Network | ipaddress.IPv6Network = ipaddress.IPv4Network(
            (draw(st.integers(0x0A000000, 0x0AFFFFFF)), prefix), strict=False
        )
    else:
        prefix = draw(st.integers(48, 126))
        net = ipaddress.IPv6Network(
            (0x20010DB8 << 96 | draw(st.integers(0, 2**64)) << 32, prefix), strict=False
        )
    hosts = net.num_addresses
    gw_i, ip_i = draw(st.lists(st.integers(1, hosts - 2), min_size=2, max_size=2, unique=True))
    return Allocation(
        net.network_address + ip_i,
        prefix,
        net.network_address + gw_i,
        draw(st.integers(0, 4094)),
        draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)),
        draw(owners),
    )


@settings(max_examples=200, deadline=None)
@given(allocations())
def test_round_trip(a: Allocation) -> None:
    assert annotation.parse(a.encode()) == a


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.dictionaries(
            st.sampled_from([*sorted(GOOD), "x"]),
            st.one_of(st.none(), st.integers(-5, 5000), st.text(max_size=20)),
            max_size=7,
        ).map(json.dumps),
    )
)
def test_fuzz_only_invalid_input(value: str) -> None:
    try:
        a = annotation.parse(value)
    except InvalidInput as err:
        assert str(err).startswith("annotation fip.io/allocation")
        return
    assert a.gateway in a.network and a.ip in a.network and a.ip != a.gateway


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(GOOD)), st.one_of(st.none(), st.integers(-5, 5000), st.text(max_size=20))
    )
)
def test_fuzz_field_mutations(over: dict[str, object]) -> None:
    try:
        annotation.parse(text(**over))
    except InvalidInput as err:
        assert err.field.startswith("annotation fip.io/allocation")
