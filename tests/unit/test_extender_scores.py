"""prioritize's pre-encoded reply is byte for byte the general encoding, across index changes."""

from __future__ import annotations

import dataclasses

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from placement_world import SUBNETS, subnet
from scheduler_extender import wire
from scheduler_extender.scores import PriorityEncoder

from fip.core.nodesubnet import NodeFacts, NodeSubnetIndex
from fip.core.placement import Choice, Placement, score_map
from fip.core.subnet import NodeSelection

RACK = dataclasses.replace(subnet("rack-1", 9), nodes=NodeSelection(match_labels=(("rack", "r1"),)))
ALL = [*SUBNETS, "rack-1"]
LABELS = [{"l2": "dc1-a"}, {"l2": "dc1-b", "rack": "r1"}, {"l2": "dc1-c"}, {"rack": "r1"}, {}]
NAMES = [f"n{i}" for i in range(8)]

_placements = st.dictionaries(st.sampled_from(ALL), st.integers(-2, 12)).map(
    lambda scores: Placement(allowed={s: Choice(s, v) for s, v in scores.items()})
)
_events = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from([*range(len(LABELS)), None])), max_size=12
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_events, _placements, st.lists(st.sampled_from([*NAMES, "ghost"]))), max_size=5))
def test_encoded_reply_equals_the_general_encoding(
    steps: list[tuple[list[tuple[str, int | None]], Placement, list[str]]],
) -> None:
    idx = NodeSubnetIndex([*SUBNETS.values(), RACK])
    enc = PriorityEncoder()
    for events, placement, names in steps:
        for name, labels in events:
            if labels is None:
                idx.remove_node(name)
            else:
                idx.put_node(NodeFacts(name, LABELS[labels]))
        got = enc.encode(placement, idx, names)
        if any(not idx.known(n) for n in names):
            assert got is None
        else:
            assert got == orjson.dumps(wire.priority_list_for(names, score_map(placement, idx)))


def test_a_status_update_that_moves_nothing_keeps_the_version() -> None:
    idx = NodeSubnetIndex(SUBNETS.values())
    idx.put_node(NodeFacts("a", {"l2": "dc1-a"}))
    v = idx.version
    idx.put_node(NodeFacts("a", {"l2": "dc1-a", "other": "x"}))
    assert idx.version == v
    idx.put_node(NodeFacts("a", {"l2": "dc1-b"}))
    assert idx.version > v
    assert {k: set(m) for k, m in idx.groups().items()} == {frozenset({"dc1-b"}): {"a"}}
    idx.remove_node("a")
    assert dict(idx.groups()) == {}
