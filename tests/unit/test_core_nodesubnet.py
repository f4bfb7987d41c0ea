"""Node -> subnet membership and the pod-request parser."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from placement_world import SUBNETS

from fip.core.errors import InvalidInput
from fip.core.nodesubnet import NodeFacts, NodeSubnetIndex, node_facts, subnets_of
from fip.core.podrequest import parse_request, wants_ip
from fip.core.policy import ReleasePolicy
from fip.core.subnet import NodeSelection, Subnet


def _node(name: str, labels: dict[str, str] | None = None, ips: list[Any] | None = None) -> dict[str, Any]:
    addresses = [{"type": "InternalIP", "address": ip} for ip in ips or []]
    addresses.append({"type": "Hostname", "address": name})
    return {"metadata": {"name": name, "labels": labels or {}}, "status": {"addresses": addresses}}


CIDR_SUBNET = Subnet(
    name="by-ip",
    cidr=ipaddress.ip_network("10.9.0.0/24"),
    gateway=ipaddress.ip_address("10.9.0.1"),
    nodes=NodeSelection(node_cidrs=(ipaddress.ip_network("192.168.7.0/24"),)),
)
BOTH = Subnet(
    name="both",
    cidr=ipaddress.ip_network("10.8.0.0/24"),
    gateway=ipaddress.ip_address("10.8.0.1"),
    nodes=NodeSelection((("rack", "r1"),), (ipaddress.ip_network("192.168.7.0/24"),)),
)


def test_node_facts_reads_labels_and_internal_ips() -> None:
    f = node_facts(_node("n1", {"l2": "dc1-a", "x": "y"}, ["192.168.7.4", "2001:DB8::1", "junk"]))
    assert f.name == "n1"
    assert f.labels == {"l2": "dc1-a", "x": "y"}
    assert f.internal_ips == (ipaddress.ip_address("192.168.7.4"), ipaddress.ip_address("2001:db8::1"))
    with pytest.raises(InvalidInput):
        node_facts({"metadata": {}})
    assert node_facts({"metadata": {"name": "bare"}}).internal_ips == ()


def test_membership_by_labels_cidrs_and_both() -> None:
    subnets = [*SUBNETS.values(), CIDR_SUBNET, BOTH]
    assert subnets_of(node_facts(_node("a", {"l2": "dc1-a"})), subnets) == {"dc1-a"}
    assert subnets_of(node_facts(_node("b", {}, ["192.168.7.9"])), subnets) == {"by-ip"}
    assert subnets_of(node_facts(_node("c", {"rack": "r1"}, ["192.168.7.9"])), subnets) == {"by-ip", "both"}
    assert subnets_of(node_facts(_node("d", {"rack": "r1"}, ["192.168.8.9"])), subnets) == frozenset()
    assert subnets_of(node_facts(_node("e", {"l2": "dc1-a"}, ["192.168.7.1"])), subnets) == {"dc1-a", "by-ip"}


_facts = st.builds(
    NodeFacts,
    name=st.sampled_from([f"n{i}" for i in range(8)]),
    labels=st.dictionaries(
        st.sampled_from(["l2", "rack"]), st.sampled_from(["dc1-a", "dc1-b", "dc1-c", "r1"])
    ),
    internal_ips=st.lists(
        st.sampled_from([ipaddress.ip_address("192.168.7.3"), ipaddress.ip_address("10.1.1.1")]), max_size=2
    ).map(tuple),
)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _facts),
        st.tuples(st.just("remove"), st.sampled_from([f"n{i}" for i in range(8)])),
        st.tuples(
            st.just("subnets"),
            st.lists(st.sampled_from([*SUBNETS.values(), CIDR_SUBNET, BOTH]), unique_by=lambda s: s.name),
        ),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(_ops)
def test_index_matches_a_fresh_computation(ops: list[tuple[str, Any]]) -> None:
    idx = NodeSubnetIndex(SUBNETS.values())
    nodes: dict[str, NodeFacts] = {}
    subnets = list(SUBNETS.values())
    for op, arg in ops:
        if op == "put":
            idx.put_node(arg)
            nodes[arg.name] = arg
        elif op == "remove":
            idx.remove_node(arg)
            nodes.pop(arg, None)
        else:
            idx.set_subnets(arg)
            subnets = arg
    snap = idx.copy()
    assert idx.node_names() == sorted(nodes)
    for name, f in nodes.items():
        assert idx.subnets_of(name) == subnets_of(f, subnets) == snap.subnets_of(name)
    for s in subnets:
        assert idx.nodes_of(s.name) == {n for n, f in nodes.items() if s.name in subnets_of(f, subnets)}
        assert idx.populated(s.name) is bool(idx.nodes_of(s.name))
    assert not idx.known("never-seen") and idx.subnets_of("never-seen") == frozenset()
    assert idx.homed() == {n for n, f in nodes.items() if subnets_of(f, subnets)}
    assert idx.in_several() == {n for n, f in nodes.items() if len(subnets_of(f, subnets)) > 1}


def _pod(annotations: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web-0",
            "namespace": "default",
            "uid": "u-1",
            "annotations": annotations or {},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}
            ],
        },
        "spec": spec or {"containers": [{"name": "c", "resources": {"limits": {"fip.io/ip": "1"}}}]},
    }


def test_wants_ip_follows_is_interested() -> None:
    assert wants_ip(_pod())
    assert wants_ip(
        _pod(containers=[{"name": "c"}], initContainers=[{"resources": {"requests": {"fip.io/ip": "1"}}}])
    )
    assert not wants_ip(_pod(containers=[{"resources": {"limits": {"cpu": "1"}}}]))
    for junk in (
        {},
        {"spec": None},
        {"spec": {"containers": "x"}},
        {"spec": {"containers": [1, {"resources": 3}]}},
    ):
        assert not wants_ip(junk)


def test_parse_request_reads_annotations() -> None:
    req = parse_request(
        _pod(
            {
                "fip.io/pool": "shared",
                "fip.io/subnets": "dc1-a, dc1-b",
                "fip.io/requested-ip": "10.0.1.200",
                "fip.io/release-policy": "never",
            }
        ),
        lambda ns, rs: None,
    )
    assert (req.pool, req.subnets, str(req.requested), req.policy) == (
        "shared",
        frozenset({"dc1-a", "dc1-b"}),
        "10.0.1.200",
        ReleasePolicy.NEVER,
    )
    assert req.owner.encode() == "default/StatefulSet/web/0"
    galaxy = parse_request(_pod({"tke.cloud.tencent.com/eni-ip-pool": "gp"}), lambda ns, rs: None)
    assert galaxy.pool == "gp"


@pytest.mark.parametrize(
    ("notes", "field"),
    [
        ({"fip.io/pool": "Bad_Pool"}, "annotation fip.io/pool"),
        ({"fip.io/subnets": ""}, "annotation fip.io/subnets"),
        ({"fip.io/subnets": "a,,b"}, "annotation fip.io/subnets"),
        ({"fip.io/subnets": ",".join(f"s{i}" for i in range(70))}, "annotation fip.io/subnets"),
        ({"fip.io/requested-ip": "10.0.1.0300"}, "annotation fip.io/requested-ip"),
        ({"fip.io/requested-ip": 7}, "annotation fip.io/requested-ip"),
        ({"fip.io/release-policy": "sometimes"}, "fip.io/release-policy"),
    ],
)
def test_bad_annotations_are_refused_naming_them(notes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_request(_pod(notes), lambda ns, rs: None)
    assert info.value.field == field


def test_a_pod_without_uid_is_refused() -> None:
    pod = _pod()
    del pod["metadata"]["uid"]
    with pytest.raises(InvalidInput, match=r"metadata\.uid"):
        parse_request(pod, lambda ns, rs: None)


_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=20), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["fip.io/pool", "fip.io/subnets", "fip.io/requested-ip", "fip.io/release-policy", "x"]
        ),
        _junk | st.sampled_from(["dc1-a", "10.0.1.200", "immutable", "a,b", "2001:db8::1"]),
    ),
    _junk,
)
def test_fuzz_parse_request_only_raises_invalid_input(notes: dict[str, Any], spec: Any) -> None:
    pod = _pod(notes)
    pod["spec"] = spec
    wants_ip(pod)
    try:
        parse_request(pod, lambda ns, rs: None)
    except InvalidInput as err:
        assert str(err)
