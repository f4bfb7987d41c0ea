"""The decoded-NodeNames cache (`scheduler_extender.namescache`): a body shaped as Go encodes it
(split, its array reused) and the same arguments in any other shape (decoded whole) get the same
replies, for every pod kind and any candidate list; a cached array follows node changes; bodies
built to fool the split are decoded whole; bad arrays get the usual messages."""

from __future__ import annotations

import json
from typing import Any

from extender_kit import NAMES, node, pod, world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scheduler_extender import namescache

from lab.scheduler import wire as go

STS = ("apps/v1", "StatefulSet", "web")
PODS = [
    pod("web-0", owner=STS),
    pod("pinned", annotations={"fip.io/subnets": "dc1-b"}),
    pod("pooled", annotations={"fip.io/pool": "shared"}),
    pod("bad", annotations={"fip.io/release-policy": "sometimes"}),
    pod("plain", fip=False),
]
W = world()


def go_body(p: dict[str, Any], names: list[str]) -> bytes:
    body = go.extender_args(p, [{"metadata": {"name": n}} for n in names], node_cache_capable=True)
    assert namescache.split(body) is not None  # the fast path's shape
    return body


def whole_body(p: dict[str, Any], names: list[str]) -> bytes:
    body = json.dumps({"NodeNames": names, "Pod": p, "Nodes": None}, indent=1).encode()
    assert namescache.split(body) is None
    return body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.sampled_from([*NAMES, "ghost", "x-1", "Ünïcode", 'q"uote']), max_size=12),
    which=st.integers(0, len(PODS) - 1),
)
def test_split_and_whole_decoding_give_the_same_replies(names: list[str], which: int) -> None:
    p = PODS[which]
    for verb in ("filter", "prioritize"):
        fast = W.post(verb, go_body(p, names), content_type="application/json")
        again = W.post(verb, go_body(p, names), content_type="application/json")  # a cache hit
        whole = W.post(verb, whole_body(p, names), content_type="application/json")
        assert fast == again == whole, verb
        if verb == "prioritize" and whole[0] == 200:
            assert [s["Host"] for s in whole[1]] == names  # every name, in order


def test_a_cached_array_follows_node_changes() -> None:
    w = world()
    names = NAMES
    body = go_body(pod("pinned", annotations={"fip.io/subnets": "dc1-b"}), names)
    status, first = w.post("prioritize", body, content_type="application/json")
    assert status == 200
    assert {s["Host"]: s["Score"] > 0 for s in first}["dc1-a-n0"] is False
    w.view.put_node(node("dc1-a-n0", "dc1-b"))  # moved into the pod's subnet
    _, moved = w.post("prioritize", body, content_type="application/json")
    assert {s["Host"]: s["Score"] > 0 for s in moved}["dc1-a-n0"] is True
    _, filtered = w.post("filter", body, content_type="application/json")
    assert "dc1-a-n0" in filtered["NodeNames"]
    w.view.remove_node("dc1-a-n0")
    _, gone = w.post("filter", body, content_type="application/json")
    assert "dc1-a-n0" in gone["FailedNodes"]


def test_bodies_built_to_fool_the_split_are_decoded_whole() -> None:
    p = pod("pinned", annotations={"fip.io/subnets": "dc1-b", "x": ',"NodeNames":["dc1-b-n0"]}'})
    tail = b',"NodeNames":["dc1-a-n0","dc1-b-n0"]}'
    cases = {
        # an annotation whose text looks like the key: its quotes are escaped, no split there
        "annotation": go.extender_args(p, [{"metadata": {"name": "dc1-a-n0"}}], node_cache_capable=True),
        # the key twice: Go and orjson keep the last one, and so does the whole decode
        "twice": b'{"Pod":' + json.dumps(p).encode() + b',"NodeNames":["dc1-a-n0"]' + tail,
        # a nested NodeNames last, the real one first
        "nested": b'{"NodeNames":["dc1-a-n0"],"Pod":'
        + json.dumps(p).encode()[:-1]
        + b',"z":{"NodeNames":["q"]}}}',
    }
    for what, body in cases.items():
        whole = json.loads(body)
        expect = W.post("filter", json.dumps(whole, indent=1).encode(), content_type="application/json")
        got = W.post("filter", body, content_type="application/json")
        assert got == expect, what
    assert W.post("filter", cases["annotation"], content_type="application/json")[1]["NodeNames"] == []
    assert W.post("filter", cases["twice"], content_type="application/json")[1]["NodeNames"] == ["dc1-b-n0"]


def test_bad_arrays_in_go_shaped_bodies_get_the_usual_messages() -> None:
    head = b'{"Pod":' + json.dumps(PODS[0]).encode() + b',"Nodes":null,"NodeNames":'
    for arr, message in (
        (b'["dc1-a-n0",7]', "ExtenderArgs.NodeNames[1]: the number 7 is not a string"),
        (b'["dc1-a-n0",""]', "ExtenderArgs.NodeNames[1]: '' is not a Kubernetes object name"),
        (b'["dc1-a-n0"', "body is not valid JSON"),
    ):
        status, reply = W.post("filter", head + arr + b"}", content_type="application/json")
        assert status == 400 and message in reply["Error"], (arr, reply)
