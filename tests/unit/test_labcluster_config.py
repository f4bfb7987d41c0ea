"""The `fip-lab up` config file: what it builds, and a precise refusal for every bad input."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fip.core.errors import InvalidInput
from lab.cluster import config

DEFAULT = Path(config.__file__).with_name("default.yaml")


def good() -> dict[str, object]:
    return {
        "domains": {
            "a": {
                "nodeCIDR": "192.168.1.0/24",
                "nodes": ["a1", {"name": "a2", "mode": "macvlan"}],
                "subnets": [
                    {
                        "name": "sa",
                        "cidr": "10.1.0.0/24",
                        "legacy": {"address": "10.1.0.250", "allow": ["10.1.0.9"]},
                    },
                    {"name": "sa-v7", "cidr": "10.1.7.0/24", "vlan": 7},
                ],
            },
            "b": {"nodes": 3, "subnets": [{"name": "sb", "cidr": "10.2.0.0/24"}]},
        },
        "pools": [{"name": "db", "subnet": "sa", "size": 4, "namespaces": ["db"]}],
    }


def refused(doc: object) -> str:
    with pytest.raises(InvalidInput) as info:
        config.loads(yaml.safe_dump(doc), "lab config x.yaml")
    return str(info.value)


def test_the_default_config_is_two_domains_and_a_macvlan_node() -> None:
    cfg = config.load(DEFAULT)
    assert [d.name for d in cfg.domains] == ["a", "b"]
    assert [(n.name, n.mode) for n in cfg.nodes] == [
        ("a1", "bridge"), ("a2", "bridge"), ("a3", "macvlan"), ("b1", "bridge"), ("b2", "bridge"),
    ]  # fmt: skip
    assert all(s.legacy is not None for s in cfg.subnets)


def test_a_config_becomes_nodes_subnets_and_legacy_hosts() -> None:
    cfg = config.parse(good())
    a, b = cfg.domains
    assert [(n.name, str(n.ip), str(n.gateway), n.vlans) for n in a.nodes] == [
        ("a1", "192.168.1.2", "192.168.1.1", (0, 7)),
        ("a2", "192.168.1.3", "192.168.1.1", (0, 7)),
    ]
    assert [n.name for n in b.nodes] == ["b-1", "b-2", "b-3"]
    assert str(b.node_cidr) == "192.168.2.0/24"  # default: 192.168.<domain number>.0/24
    sa = a.subnets[0]
    assert sa.resource["spec"]["nodeSelector"] == {"matchLabels": {"fip.io/l2": "a"}}
    assert sa.resource["spec"]["gateway"] == "10.1.0.1"
    assert sa.resource["spec"]["excluded"] == ["10.1.0.250"]  # the legacy host's IP is never handed out
    assert sa.legacy is not None
    assert (sa.legacy.address, sa.legacy.port, sa.legacy.allow) == (
        IPv4Address("10.1.0.250"), 5000, (IPv4Address("10.1.0.9"),),
    )  # fmt: skip
    assert cfg.pools[0]["metadata"]["name"] == "db"


def test_overlapping_subnets_are_refused_naming_both() -> None:
    doc = good()
    doc["domains"]["b"]["subnets"][0]["cidr"] = "10.1.0.128/25"  # type: ignore[index]
    msg = refused(doc)
    assert msg.startswith(
        'lab config x.yaml: domains.b.subnets[0].cidr: "10.1.0.128/25" overlaps 10.1.0.0/24'
    )
    assert "domains.a.subnets[0].cidr" in msg


def test_a_subnet_overlapping_a_node_network_or_the_service_cidr_is_refused() -> None:
    doc = good()
    doc["domains"]["b"]["nodeCIDR"] = "10.2.0.0/16"  # type: ignore[index]
    assert "overlaps 10.2.0.0/16 (domains.b.nodeCIDR)" in refused(doc)
    doc = good()
    doc["serviceCIDR"] = "10.0.0.0/8"
    assert "overlaps 10.0.0.0/8 (serviceCIDR)" in refused(doc)


def test_more_nodes_than_addresses_is_refused() -> None:
    doc = good()
    doc["domains"]["b"]["nodeCIDR"] = "192.168.2.0/30"  # type: ignore[index]
    msg = refused(doc)
    assert 'domains.b.nodes: "3 nodes" do not fit in nodeCIDR 192.168.2.0/30' in msg
    assert "1 addresses besides the router's" in msg


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ("domains", "a", "subnets", 0, "cidre"),
            "x",
            'cidre: "x" is not a lab subnet field; did you mean cidr?',
        ),
        (("domains", "a", "nodes", 1, "mode"), "sriov", 'nodes[1].mode: "sriov" is not a lab datapath mode'),
        (("domains", "a", "subnets", 1, "vlan"), 0, 'subnets[1].vlan: 0 is also the VLAN of subnet "sa"'),
        (
            ("domains", "a", "subnets", 0, "legacy", "address"),
            "10.9.0.1",
            "is not a host address of 10.1.0.0/24",
        ),
        (("domains", "a", "subnets", 0, "legacy", "address"), "10.1.0.1", "is the subnet's gateway"),
        (("domains", "a", "subnets", 0, "legacy", "port"), 0, "legacy.port: 0 is not an integer in 1..65535"),
        (("domains", "a", "subnets", 0, "gateway"), "10.2.0.1", "domains.a.subnets[0].gateway"),
        (("domains", "a", "subnets", 0, "cidr"), "2001:db8::/64", "is not IPv4"),
        (("domains", "b", "nodes"), ["a1"], "names a node twice (also in domain a)"),
        (("domains", "b", "nodes"), 0, "domains.b.nodes: 0 is not an integer in 1..64"),
        (("domains", "b", "subnets"), [], "domains.b.subnets: [] is empty"),
        (("pools", 0, "subnet"), "nope", "nope"),
    ],
)
def test_bad_fields_are_refused_with_their_path(
    path: tuple[object, ...], value: object, expected: str
) -> None:
    doc = good()
    target: object = doc
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    msg = refused(doc)
    assert msg.startswith("lab config x.yaml: ")
    assert expected in msg


def test_a_long_domain_name_and_a_yaml_syntax_error_are_refused() -> None:
    assert "is longer than 12 characters" in refused({"domains": {"averyverylongname": {}}})
    with pytest.raises(InvalidInput, match=r"lab config y: line 1, column \d+"):
        config.loads("domains: {a: [", "lab config y")
    with pytest.raises(InvalidInput, match='--config: "/no/such" cannot be read'):
        config.load("/no/such")


KEYS = ["domains", "a", "nodes", "subnets", "name", "cidr", "vlan", "legacy", "address", "nodeCIDR", "mode",
        "pools", "allow", "port", "x"]  # fmt: skip
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70) | st.text(max_size=20)
    | st.sampled_from(["10.1.0.0/24", "192.168.1.0/30", "a1", "bridge", "10.1.0.250"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(yaml_values)
def test_any_document_parses_or_is_refused_with_invalid_input(doc: object) -> None:
    try:
        config.parse(doc)
    except InvalidInput as err:
        assert str(err)


def test_the_redis_mode_is_standalone_or_sentinel() -> None:
    assert config.parse(good()).redis == "standalone"
    assert config.parse({**good(), "redis": "sentinel"}).redis == "sentinel"
    assert 'redis: "cluster" is not a lab Redis mode; use one of standalone, sentinel' in refused(
        {**good(), "redis": "cluster"}
    )
