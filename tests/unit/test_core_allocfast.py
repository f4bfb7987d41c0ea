"""The fast annotation reader agrees with the strict parser on every text: the same Allocation
for what the strict parser accepts, a refusal (from the strict parser) for the rest."""

from __future__ import annotations

import ipaddress

import pytest
from core_strategies import owner_keys
from hypothesis import given, settings
from hypothesis import strategies as st

from fip.core import allocfast, annotation
from fip.core.annotation import Allocation
from fip.core.errors import InvalidInput


def _same(text: str) -> None:
    try:
        want = annotation.parse(text)
    except InvalidInput as err:
        with pytest.raises(InvalidInput) as got:
            allocfast.parse(text)
        assert str(got.value) == str(err)
        return
    assert allocfast.parse(text) == want


@st.composite
def allocations(draw: st.DrawFn) -> str:
    prefix = draw(st.integers(1, 32))
    base = draw(st.integers(0, 2**32 - 1))
    net = ipaddress.ip_network((base >> (32 - prefix) << (32 - prefix), prefix))
    size = net.num_addresses
    ip = net[draw(st.integers(0, size - 1))]
    gw = net[draw(st.integers(0, size - 1))]
    vlan = draw(st.sampled_from([0, 1, 4094, 4095, 100]))
    subnet = draw(st.sampled_from(["dc1-a", "a.b", "x", "-bad", "UP"]))
    return Allocation(ip, prefix, gw, vlan, subnet, draw(owner_keys())).encode()


@settings(max_examples=1000, deadline=None)
@given(allocations())
def test_agrees_on_encoded_allocations(text: str) -> None:
    _same(text)


@settings(max_examples=1000, deadline=None)
@given(allocations(), st.integers(0, 200), st.sampled_from(["0", "9", ".", '"', "/", "a", "", "00", "1"]))
def test_agrees_on_mutated_texts(text: str, at: int, ch: str) -> None:
    i = at % (len(text) + 1)
    _same(text[:i] + ch + text[i + 1 :])
    _same(text[:i] + ch + text[i:])


@pytest.mark.parametrize(
    "text",
    [
        '{"ip":"10.0.1.0","prefix":24,"gateway":"10.0.1.1","vlan":0,"subnet":"s","owner":"ns/Pod/p"}',
        '{"ip":"10.0.1.255","prefix":24,"gateway":"10.0.1.1","vlan":0,"subnet":"s","owner":"ns/Pod/p"}',
        '{"ip":"127.0.0.5","prefix":8,"gateway":"127.0.0.1","vlan":0,"subnet":"s","owner":"ns/Pod/p"}',
        '{"ip":"169.254.0.5","prefix":16,"gateway":"169.254.0.1","vlan":0,"subnet":"s","owner":"ns/Pod/p"}',
        '{"ip":"10.0.1.5","prefix":24,"gateway":"10.0.2.1","vlan":0,"subnet":"s","owner":"ns/Pod/p"}',
        '{"ip":"10.0.1.5","prefix":24,"gateway":"10.0.1.1","vlan":0,"subnet":"s","owner":"ns/StatefulSet/w"}',
        '{"ip":"10.0.1.5","prefix":24,"gateway":"10.0.1.1","vlan":0,"subnet":"s","owner":"ns/Pod/p/1"}',
        '{"ip":"10.0.1.5","prefix":24,"gateway":"10.0.1.1","vlan":0,"subnet":"s","owner":"ns/TApp/t/3"}',
        '{"ip":"10.0.1.5","prefix":31,"gateway":"10.0.1.4","vlan":0,"subnet":"s","owner":"ns/Pod/p"}',
        '{"ip":"10.0.1.5","prefix":33,"gateway":"10.0.1.4","vlan":0,"subnet":"s","owner":"ns/Pod/p"}',
        '{"ip":"256.0.1.5","prefix":24,"gateway":"10.0.1.4","vlan":0,"subnet":"s","owner":"ns/Pod/p"}',
    ],
)
def test_edge_cases(text: str) -> None:
    _same(text)
