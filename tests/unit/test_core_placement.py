"""Placement: which nodes may take a pod, scores, and the subnet bind allocates in."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from placement_world import POOLS, SUBNETS, index, record, request, subnet, usage

from fip.core.nodesubnet import NodeFacts, NodeSubnetIndex
from fip.core.placement import (
    Choice,
    FilterOutcome,
    Placement,
    bind_choice,
    filter_index,
    filter_nodes,
    place,
    score_index,
    score_nodes,
)
from fip.core.podrequest import PodRequest
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.core.subnet import NodeSelection

IDX = index()
NODES = IDX.node_names()


def run(p: Placement, nodes: Sequence[str] = NODES) -> FilterOutcome:
    return filter_nodes(p, nodes, IDX.subnets_of, IDX.known, IDX.populated)


def in_subnet(name: str) -> list[str]:
    return sorted(IDX.nodes_of(name))


def test_fresh_pod_passes_nodes_of_subnets_with_room() -> None:
    p = place(request(), [], SUBNETS, usage({"dc1-b": 0}), POOLS)
    out = run(p)
    assert sorted(out.passed) == in_subnet("dc1-a") + in_subnet("dc1-c")
    assert out.failed["dc1-b-n0"] == "subnet dc1-b: no free IP (253 of 253 in use)"
    assert out.failed["lonely"].startswith("node lonely is in no fip Subnet")
    assert out.unresolvable == {}
    assert set(out.passed) | set(out.failed) == set(NODES)


def test_statefulset_with_reserved_ip_goes_back_to_its_subnet() -> None:
    req = request()
    held = [record(req, "dc1-b", 17, state=IPState.RESERVED)]
    out = run(place(req, held, SUBNETS, usage(), POOLS))
    assert out.passed == in_subnet("dc1-b")
    assert out.failed["dc1-a-n0"] == "subnet dc1-a: the pod's IP 10.0.2.17 belongs to subnet dc1-b"
    # even when that subnet is otherwise full: the IP is held for this owner
    assert run(place(req, held, SUBNETS, usage({"dc1-b": 0}), POOLS)).passed == in_subnet("dc1-b")


def test_predecessor_of_the_same_name_is_reclaimed() -> None:
    req = request()
    old = record(req, "dc1-c", 9, uid="uid-old")
    p = place(req, [old], SUBNETS, usage(), POOLS)
    assert run(p).passed == in_subnet("dc1-c")
    choice = bind_choice(p, frozenset({"dc1-c"}))
    assert isinstance(choice, Choice)
    assert choice.reclaim == (old,)
    # under the pod policy the old IP is not the new pod's: any subnet
    loose = request(policy=ReleasePolicy.POD)
    assert len(run(place(loose, [record(loose, "dc1-c", 9)], SUBNETS, usage(), POOLS)).passed) == 9


def test_retry_of_the_same_uid_stays_in_its_subnet() -> None:
    req = request(kind="Pod", name="solo", instance=None, pod="solo", policy=ReleasePolicy.POD)
    mine = record(req, "dc1-a", 5, uid=req.uid, state=IPState.ALLOCATED)
    p = place(req, [mine], SUBNETS, usage({"dc1-a": 0}), POOLS)
    assert run(p).passed == in_subnet("dc1-a")


def test_reserved_ip_in_a_subnet_without_nodes_is_unresolvable() -> None:
    req = request()
    held = [record(req, "dc1-c", 4, state=IPState.RESERVED)]
    idx = index()
    for n in in_subnet("dc1-c"):
        idx.remove_node(n)
    out = filter_nodes(
        place(req, held, SUBNETS, usage(), POOLS), NODES, idx.subnets_of, idx.known, idx.populated
    )
    assert out.passed == []
    assert set(out.unresolvable) == set(NODES)
    assert out.unresolvable["dc1-a-n0"] == "subnet dc1-c has no nodes"


def test_deployment_waits_when_it_holds_replicas_ips() -> None:
    req = request("Deployment", "api", None)
    held = [record(req, "dc1-a", 10 + i, uid=f"u{i}", pod=f"api-{i}") for i in range(3)]
    p = place(req, held, SUBNETS, usage(), POOLS, replicas=3)
    out = run(p)
    assert out.passed == []
    assert out.failed["dc1-b-n1"].startswith("Deployment default/api holds 3 IP(s) for 3 replica(s)")
    # one of its pods is gone: its IP is reusable, only in its subnet
    p = place(req, held, SUBNETS, usage(), POOLS, replicas=3, gone=frozenset({"u1"}))
    assert run(p).passed == in_subnet("dc1-a")
    choice = bind_choice(p, frozenset({"dc1-a"}))
    assert isinstance(choice, Choice)
    assert choice.reclaim == (held[1],)


def test_deployment_below_replicas_may_grow_and_prefers_its_reserved_subnet() -> None:
    req = request("Deployment", "api", None)
    held = [
        record(req, "dc1-b", 10, state=IPState.RESERVED),
        record(req, "dc1-a", 11, uid="live", pod="api-z"),
    ]
    p = place(req, held, SUBNETS, usage(), POOLS, replicas=3)
    assert len(run(p).passed) == 9
    scores = dict(score_nodes(p, NODES, IDX.subnets_of))
    assert scores["dc1-b-n0"] == 10
    assert scores["dc1-a-n0"] < 10
    assert scores["lonely"] == 0
    # at replicas: only the subnet with the reserved IP
    p = place(req, held, SUBNETS, usage(), POOLS, replicas=2)
    assert run(p).passed == in_subnet("dc1-b")


def test_prioritize_prefers_room() -> None:
    p = place(request(), [], SUBNETS, usage({"dc1-a": 10, "dc1-b": 200, "dc1-c": 100}), POOLS)
    scores = dict(score_nodes(p, NODES, IDX.subnets_of))
    assert scores["dc1-b-n0"] > scores["dc1-c-n0"] > scores["dc1-a-n0"] > 0
    assert all(isinstance(v, int) and 0 <= v <= 10 for v in scores.values())


def test_pools() -> None:
    ok = place(request(pool="shared"), [], SUBNETS, usage(), POOLS)
    assert run(ok).passed == in_subnet("dc1-b")
    assert ok.pool == "shared"
    forbidden = place(request(ns="other", pool="shared"), [], SUBNETS, usage(), POOLS)
    out = run(forbidden)
    assert out.unresolvable["dc1-b-n0"] == "namespace other may not use pool shared"
    assert run(place(request(ns="other", pool="open"), [], SUBNETS, usage(), POOLS)).passed == in_subnet(
        "dc1-c"
    )
    unknown = run(place(request(pool="nope"), [], SUBNETS, usage(), POOLS))
    assert unknown.unresolvable["lonely"] == "pool nope is not defined (defined: open, shared)"
    clash = run(place(request(pool="shared", subnets=frozenset({"dc1-a"})), [], SUBNETS, usage(), POOLS))
    assert "excludes" in clash.unresolvable["lonely"]


def test_subnets_annotation() -> None:
    p = place(request(subnets=frozenset({"dc1-a", "dc1-c"})), [], SUBNETS, usage(), POOLS)
    out = run(p)
    assert sorted(out.passed) == in_subnet("dc1-a") + in_subnet("dc1-c")
    assert out.failed["dc1-b-n2"] == "subnet dc1-b: annotation fip.io/subnets allows only dc1-a, dc1-c"
    bad = run(place(request(subnets=frozenset({"zz"})), [], SUBNETS, usage(), POOLS))
    assert bad.unresolvable["lonely"].startswith("annotation fip.io/subnets names unknown subnet(s) zz")
    # a reserved IP outside the annotation's subnets: hopeless, said so
    req = request(subnets=frozenset({"dc1-a"}))
    held = [record(req, "dc1-b", 3, state=IPState.RESERVED)]
    assert (
        "holds an IP in subnet dc1-b" in run(place(req, held, SUBNETS, usage(), POOLS)).unresolvable["lonely"]
    )


def test_requested_ip() -> None:
    ip = ipaddress.ip_address("10.0.1.200")
    req = request(requested=ip)
    p = place(req, [], SUBNETS, usage(), POOLS)
    assert run(p).passed == in_subnet("dc1-a")
    choice = bind_choice(p, frozenset({"dc1-a"}))
    assert isinstance(choice, Choice)
    assert choice.requested == ip
    not_reserved = run(
        place(request(requested=ipaddress.ip_address("10.0.1.7")), [], SUBNETS, usage(), POOLS)
    )
    assert "is not a reserved IP of subnet dc1-a" in not_reserved.unresolvable["lonely"]
    outside = run(place(request(requested=ipaddress.ip_address("192.0.2.17")), [], SUBNETS, usage(), POOLS))
    assert outside.unresolvable["lonely"].startswith(
        "annotation fip.io/requested-ip: 192.0.2.17 is in no Subnet"
    )
    other = request("StatefulSet", "db", 0)
    holder = record(other, "dc1-a", 200)
    taken = run(place(req, [], SUBNETS, usage(), POOLS, requested_holder=holder))
    assert taken.failed["dc1-a-n0"] == "IP 10.0.1.200 is held by default/StatefulSet/db/0 (pod db-0)"
    # the owner's own reserved IP, asked for by address: fine
    own = record(req, "dc1-a", 200, state=IPState.RESERVED)
    assert run(place(req, [own], SUBNETS, usage(), POOLS, requested_holder=own)).passed == in_subnet("dc1-a")
    # in a pool elsewhere: hopeless
    assert run(place(request(requested=ip, pool="shared"), [], SUBNETS, usage(), POOLS)).unresolvable


def test_bind_choice_for_a_node_outside_the_placement() -> None:
    req = request()
    p = place(req, [record(req, "dc1-b", 17, state=IPState.RESERVED)], SUBNETS, usage(), POOLS)
    assert (
        bind_choice(p, frozenset({"dc1-a"})) == "subnet dc1-a: the pod's IP 10.0.2.17 belongs to subnet dc1-b"
    )
    assert bind_choice(p, frozenset()) == "the node is in no fip Subnet"


def test_unknown_nodes_are_named_as_such() -> None:
    out = run(place(request(), [], SUBNETS, usage(), POOLS), ["ghost"])
    assert out.failed == {"ghost": "node ghost is not in the extender's node cache yet"}


# --- properties ---------------------------------------------------------------------------

_kinds = st.sampled_from([("StatefulSet", 0), ("TApp", 1), ("Deployment", None), ("Pod", None)])


@st.composite
def _worlds(
    draw: st.DrawFn,
) -> tuple[PodRequest, list[AllocationRecord], dict[str, int], int | None, frozenset[str]]:
    kind, inst = draw(_kinds)
    policy = draw(st.sampled_from(list(ReleasePolicy)))
    pool = draw(st.sampled_from(["", "", "shared", "open", "nope"]))
    ns = draw(st.sampled_from(["default", "other"]))
    wanted = draw(st.frozensets(st.sampled_from(["dc1-a", "dc1-b", "dc1-c"]), max_size=2))
    requested = draw(st.sampled_from([None, None, "10.0.1.200", "10.0.2.5", "192.0.2.1"]))
    req = request(
        kind,
        "w",
        inst,
        pod="w-0" if inst is not None else "w-abc",
        policy=policy,
        ns=ns,
        pool=pool,
        subnets=wanted,
        requested=None if requested is None else ipaddress.ip_address(requested),
    )
    held = []
    for i, (sub, state, uid) in enumerate(
        draw(
            st.lists(
                st.tuples(
                    st.sampled_from(list(SUBNETS)),
                    st.sampled_from(list(IPState)),
                    st.sampled_from(["uid-new", "u1", "u2"]),
                ),
                max_size=4,
            )
        )
    ):
        held.append(
            record(req, sub, 10 + i, state=state, uid=uid, pod=draw(st.sampled_from(["w-0", "w-zz"])))
        )
    free = draw(st.dictionaries(st.sampled_from(list(SUBNETS)), st.integers(0, 5)))
    replicas = draw(st.none() | st.integers(0, 4))
    gone = draw(st.frozensets(st.sampled_from(["u1", "u2"])))
    return req, held, free, replicas, gone


@settings(max_examples=500, deadline=None)
@given(_worlds())
def test_placement_invariants(
    world: tuple[PodRequest, list[AllocationRecord], dict[str, int], int | None, frozenset[str]],
) -> None:
    req, held, free, replicas, gone = world
    p = place(req, held, SUBNETS, usage(free), POOLS, replicas=replicas, gone=gone)
    out = run(p)
    # every node is answered exactly once, passed in input order
    assert set(out.passed) | set(out.failed) | set(out.unresolvable) == set(NODES)
    assert not (set(out.passed) & set(out.failed)) and not (set(out.passed) & set(out.unresolvable))
    assert out.passed == [n for n in NODES if n in out.passed]
    assert all(isinstance(r, str) and r for r in [*out.failed.values(), *out.unresolvable.values()])
    for node, score in score_nodes(p, NODES, IDX.subnets_of):
        assert isinstance(score, int) and 0 <= score <= 10
        if node not in out.passed:
            assert score == 0
    mine = [r for r in held if r.pod_uid == req.uid]
    for node in out.passed:
        choice = bind_choice(p, IDX.subnets_of(node))
        assert isinstance(choice, Choice)
        assert choice.subnet in IDX.subnets_of(node)
        if mine:
            assert choice.subnet == mine[0].subnet
        elif req.requested is not None:
            assert choice.requested == req.requested
        if req.pool and not mine:
            assert choice.subnet == POOLS[req.pool].subnet
            assert POOLS[req.pool].allows(req.namespace)
        if req.subnets and not mine:
            assert choice.subnet in req.subnets
        # a sticky owner that holds IPs only goes where they are
        pins = {r.subnet for r in held if r.state is IPState.RESERVED}
        if req.policy is not ReleasePolicy.POD:
            pins |= {r.subnet for r in held if r.pod_uid and (r.pod_name == req.name or r.pod_uid in gone)}
        if req.owner.kind.value != "Deployment" and pins and not mine and req.requested is None:
            assert choice.subnet in pins
        for r in choice.reclaim:
            assert r.subnet == choice.subnet and r.pod_uid != req.uid
            assert r.pod_uid in gone or r.pod_name == req.name


@pytest.mark.parametrize("pool", ["", "shared"])
def test_no_pool_escape_property_example(pool: str) -> None:
    p = place(request(ns="other", pool=pool), [], SUBNETS, usage(), POOLS)
    assert bool(run(p).passed) is (pool == "")


# --- the fast set-algebra forms answer exactly as the per-node loops ---------------------------

_RACK = dataclasses.replace(subnet("rack-1", 9), nodes=NodeSelection(match_labels=(("rack", "r1"),)))
SUBNETS2 = {**SUBNETS, _RACK.name: _RACK}


def _index2() -> NodeSubnetIndex:
    idx = NodeSubnetIndex(SUBNETS2.values())
    for name in SUBNETS:
        for i in range(3):
            idx.put_node(NodeFacts(f"{name}-n{i}", {"l2": name, **({"rack": "r1"} if i == 0 else {})}))
    idx.put_node(NodeFacts("rack-only", {"rack": "r1"}))
    idx.put_node(NodeFacts("lonely", {}))
    return idx


IDX2 = _index2()
NODES2 = [*IDX2.node_names(), "ghost"]


@settings(max_examples=400, deadline=None)
@given(_worlds(), st.permutations(NODES2))
def test_fast_forms_equal_the_loops(
    world: tuple[PodRequest, list[AllocationRecord], dict[str, int], int | None, frozenset[str]],
    order: list[str],
) -> None:
    req, held, free, replicas, gone = world
    use = {
        **usage(free),
        "rack-1": usage(free)["dc1-a"].__class__("rack-1", 253, 253 - free.get("dc1-a", 100), 0),
    }
    p = place(req, held, SUBNETS2, use, POOLS, replicas=replicas, gone=gone)
    slow = filter_nodes(p, order, IDX2.subnets_of, IDX2.known, IDX2.populated)
    fast = filter_index(p, order, IDX2)
    assert fast.passed == slow.passed
    assert fast.failed == slow.failed
    assert fast.unresolvable == slow.unresolvable
    assert score_index(p, order, IDX2) == score_nodes(p, order, IDX2.subnets_of)
