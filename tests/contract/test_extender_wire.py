"""The extender's wire contract: bodies exactly as kube-scheduler's Go client encodes them
(PascalCase, nulls, lowercase from old schedulers, 5,000 names, full Nodes mode with a NodeList
without kind), replies as Go decodes them, and every malformed request a JSON 400/404/405/413."""

from __future__ import annotations

import json
from typing import Any

import pytest
from extender_kit import NAMES, pod, world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.scheduler import wire as go

STS = ("apps/v1", "StatefulSet", "web")


def test_names_mode_golden_body_from_go() -> None:
    w = world()
    body = go.extender_args(
        pod("web-0", owner=STS), [{"metadata": {"name": n}} for n in NAMES], node_cache_capable=True
    )
    assert b'"Nodes":null' in body
    status, reply = w.post("filter", body, content_type="application/json")
    assert status == 200
    assert list(reply) == ["Nodes", "NodeNames", "FailedNodes", "FailedAndUnresolvableNodes", "Error"]
    assert reply["Nodes"] is None
    assert reply["NodeNames"] == NAMES[:6]
    assert reply["FailedNodes"] == {
        "lonely": "node lonely is in no fip Subnet (no nodeSelector or nodeCIDRs matches it)"
    }
    assert reply["FailedAndUnresolvableNodes"] == {}
    assert reply["Error"] == ""
    # what the lab's Go-faithful decoder makes of it
    result = go.filter_result(json.dumps(reply).encode())
    assert result.failed["lonely"].startswith("node lonely")


def test_lowercase_keys_as_schedulers_up_to_1_15_sent() -> None:
    w = world()
    status, reply = w.post(
        "filter", {"pod": pod("web-0", owner=STS), "nodes": None, "nodenames": ["dc1-a-n0", "lonely"]}
    )
    assert status == 200 and reply["NodeNames"] == ["dc1-a-n0"]
    status, scores = w.post(
        "prioritize", {"POD": pod("web-0", owner=STS), "NODENAMES": ["dc1-a-n0", "lonely"]}
    )
    assert status == 200
    assert [s["Host"] for s in scores] == ["dc1-a-n0", "lonely"]
    assert all(type(s["Score"]) is int and 0 <= s["Score"] <= 10 for s in scores)
    assert scores[1]["Score"] == 0


def test_five_thousand_names() -> None:
    w = world()
    many = [f"x-{i}" for i in range(5000)] + NAMES
    status, reply = w.post(
        "filter",
        go.extender_args(
            pod("web-0", owner=STS), [{"metadata": {"name": n}} for n in many], node_cache_capable=True
        ),
        content_type="application/json",
    )
    assert status == 200
    assert reply["NodeNames"] == NAMES[:6]
    assert len(reply["FailedNodes"]) == 5001
    assert reply["FailedNodes"]["x-17"] == "node x-17 is not in the extender's node cache yet"


def test_full_nodes_mode_with_a_nodelist_without_kind() -> None:
    w = world()
    items = [{"metadata": {"name": n, "labels": {"a": "b"}}, "status": {}} for n in NAMES]
    body = go.extender_args(pod("web-0", owner=STS), items, node_cache_capable=False)
    assert b'"NodeNames":null' in body and b'"kind"' not in body.split(b'"Nodes":')[1][:20]
    status, reply = w.post("filter", body, content_type="application/json")
    assert status == 200
    assert reply["NodeNames"] is None
    assert [n["metadata"]["name"] for n in reply["Nodes"]["items"]] == NAMES[:6]
    assert reply["Nodes"]["items"][0] == items[0]
    assert go.filter_result(json.dumps(reply).encode()).nodes is not None
    status, scores = w.post("prioritize", body, content_type="application/json")
    assert status == 200 and len(scores) == len(NAMES)


def test_pods_without_the_resource_pass_untouched() -> None:
    w = world()
    status, reply = w.post("filter", {"Pod": pod("plain", fip=False), "Nodes": None, "NodeNames": NAMES})
    assert (status, reply["NodeNames"], reply["FailedNodes"]) == (200, NAMES, {})
    assert w.post("prioritize", {"Pod": pod("plain", fip=False), "NodeNames": NAMES})[1][0]["Score"] == 0
    status, _ = w.post(
        "bind", {"PodName": "plain", "PodNamespace": "default", "PodUID": "uid-plain", "Node": "lonely"}
    )
    assert status == 200


def test_empty_names_list_is_echoed_as_empty_not_null() -> None:
    w = world()
    status, reply = w.post("filter", {"Pod": pod("web-0", owner=STS), "Nodes": None, "NodeNames": []})
    assert status == 200 and reply["NodeNames"] == []


BAD: list[tuple[bytes, str]] = [
    (b"", "empty body"),
    (b'{"Pod": {"metadata"', "not valid JSON"),
    (b"<html>", "not valid JSON"),
    (b"[]", "ExtenderArgs: an array is not a JSON object"),
    (b'{"Pod": null, "NodeNames": []}', "ExtenderArgs.Pod: missing (null)"),
    (b'{"NodeNames": []}', "ExtenderArgs.Pod: missing (null)"),
    (b'{"Pod": 7, "NodeNames": []}', "ExtenderArgs.Pod: the number 7 is not a JSON object"),
    (
        b'{"Pod": {"metadata": {"name": "p", "namespace": "d"}}, "NodeNames": []}',
        "ExtenderArgs.Pod.metadata.uid: null is not a string",
    ),
    (
        b'{"Pod": {"metadata": {"name": "p", "namespace": "d", "uid": "u"}}, "NodeNames": "n1"}',
        "ExtenderArgs.NodeNames: the string 'n1' is not an array",
    ),
    (
        b'{"Pod": {"metadata": {"name": "p", "namespace": "d", "uid": "u"}}, "NodeNames": ["a", 3]}',
        "ExtenderArgs.NodeNames[1]: the number 3 is not a string",
    ),
    (
        b'{"Pod": {"metadata": {"name": "p", "namespace": "d", "uid": "u"}}, "Nodes": null, '
        b'"NodeNames": null}',
        "both NodeNames and Nodes are null",
    ),
    (
        b'{"Pod": {"metadata": {"name": "p", "namespace": "d", "uid": "u"}}, "Nodes": {"items": [{}]}}',
        "ExtenderArgs.Nodes.items[0].metadata: null is not a JSON object",
    ),
    (
        b'{"Pod": {"metadata": {"name": "p", "namespace": "d", "uid": "u", "annotations": {"a": 1}}}, '
        b'"NodeNames": []}',
        "metadata.annotations: must be an object of strings",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD)
@pytest.mark.parametrize("verb", ["filter", "prioritize"])
def test_malformed_requests_get_a_precise_400(verb: str, body: bytes, message: str) -> None:
    w = world()
    resp = w.client.post(f"/fip/{verb}", data=body, content_type="application/json")
    assert resp.status_code == 400
    assert resp.mimetype == "application/json"
    assert message in resp.get_json()["Error"]
    assert w.store.by_subnet("dc1-a") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"PodName": "p", "PodNamespace": "default", "PodUID": "u"},
            "ExtenderBindingArgs.Node: null is not a string",
        ),
        (
            {"PodName": "", "PodNamespace": "default", "PodUID": "u", "Node": "n"},
            "ExtenderBindingArgs.PodName: '' is not",
        ),
        (
            {"PodName": ["p"], "PodNamespace": "d", "PodUID": "u", "Node": "n"},
            "ExtenderBindingArgs.PodName: an array",
        ),
        ({"Pod": None, "NodeNameToMetaVictims": {}}, "ExtenderPreemptionArgs.Pod: missing"),
    ],
)
def test_malformed_bind_and_preempt(body: dict[str, Any], message: str) -> None:
    w = world()
    verb = "preempt" if "Pod" in body else "bind"
    status, reply = w.post(verb, body)
    assert status == 400 and message in reply["Error"]


def test_unknown_verbs_methods_and_huge_bodies_answer_json() -> None:
    w = world(max_body=4096)
    resp = w.client.post("/fip/schedule", json={})
    assert resp.status_code == 404 and "/fip/filter" in resp.get_json()["Error"]
    resp = w.client.get("/fip/filter")
    assert resp.status_code == 405 and resp.mimetype == "application/json"
    resp = w.client.post("/fip/filter", data=b"x" * 5000, content_type="application/json")
    assert resp.status_code == 413
    assert "exceeds the limit of 4096 bytes" in resp.get_json()["Error"]
    # chunked (no Content-Length): still cut at the limit
    resp = w.client.post(
        "/fip/filter",
        input_stream=__import__("io").BytesIO(b"x" * 5000),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
    )
    assert resp.status_code in (400, 413)
    assert resp.get_json()["Error"]


def test_bad_annotations_are_unresolvable_reasons_not_errors() -> None:
    w = world()
    cases = {
        "fip.io/subnets": ("nope", "annotation fip.io/subnets names unknown subnet(s) nope"),
        "fip.io/pool": ("nopool", "pool nopool is not defined"),
        "fip.io/release-policy": ("sometimes", 'fip.io/release-policy: "sometimes" is not a release policy'),
        "fip.io/requested-ip": ("192.0.2.17", "annotation fip.io/requested-ip: 192.0.2.17 is in no Subnet"),
    }
    for key, (value, message) in cases.items():
        status, reply = w.post(
            "filter", {"Pod": pod("web-0", owner=STS, annotations={key: value}), "NodeNames": NAMES}
        )
        assert status == 200, reply
        assert reply["NodeNames"] == [] and reply["Error"] == ""
        assert set(reply["FailedAndUnresolvableNodes"]) == set(NAMES)
        assert message in reply["FailedAndUnresolvableNodes"]["dc1-a-n0"], reply
        w.kube.add(pod("web-0", owner=STS, annotations={key: value}))
        status, bound = w.post(
            "bind", {"PodName": "web-0", "PodNamespace": "default", "PodUID": "uid-web-0", "Node": "dc1-a-n0"}
        )
        assert status == 200 and message in bound["Error"]
        w.kube.pods.clear()
    assert all(w.store.by_subnet(s) == [] for s in ("dc1-a", "dc1-b", "dc1-c"))


def test_forbidden_pool_is_unresolvable_whatever_the_annotations_say() -> None:
    w = world()
    p = pod("x", ns="intruder", annotations={"fip.io/pool": "shared", "fip.io/subnets": "dc1-b"})
    _, reply = w.post("filter", {"Pod": p, "NodeNames": NAMES})
    assert reply["FailedAndUnresolvableNodes"]["dc1-b-n0"] == "namespace intruder may not use pool shared"
    w.kube.add(p)
    _, bound = w.post(
        "bind", {"PodName": "x", "PodNamespace": "intruder", "PodUID": "uid-x", "Node": "dc1-b-n0"}
    )
    assert "may not use pool shared" in bound["Error"]
    assert w.store.by_subnet("dc1-b") == []


def test_preempt_keeps_only_nodes_of_allowed_subnets() -> None:
    w = world()
    w.post("filter", {"Pod": pod("x"), "NodeNames": NAMES})
    body = {
        "Pod": pod("hi", annotations={"fip.io/subnets": "dc1-b"}),
        "NodeNameToVictims": None,
        "NodeNameToMetaVictims": {
            n: {"Pods": [{"UID": f"v-{n}"}], "NumPDBViolations": 1}
            for n in ("dc1-a-n0", "dc1-b-n1", "lonely")
        },
    }
    status, reply = w.post("preempt", body)
    assert status == 200
    assert reply == {
        "NodeNameToMetaVictims": {"dc1-b-n1": {"Pods": [{"UID": "v-dc1-b-n1"}], "NumPDBViolations": 1}}
    }
    # full victims (nodeCacheCapable false) and lowercase keys
    full = {
        "pod": body["Pod"],
        "nodeNameToVictims": {"dc1-b-n0": {"pods": [{"metadata": {"uid": "v1"}}], "numPDBViolations": 0}},
    }
    status, reply = w.post("preempt", full)
    assert reply == {"NodeNameToMetaVictims": {"dc1-b-n0": {"Pods": [{"UID": "v1"}], "NumPDBViolations": 0}}}
    # no victims at all
    assert w.post("preempt", {"Pod": body["Pod"], "NodeNameToMetaVictims": None}) == (
        200,
        {"NodeNameToMetaVictims": {}},
    )


def test_health_readiness_and_metrics() -> None:
    w = world()
    assert w.client.get("/healthz").get_json() == {"ok": True}
    resp = w.client.get("/readyz")
    assert resp.status_code == 200 and resp.get_json()["ready"] is True
    w.post("filter", {"Pod": pod("web-0", owner=STS), "NodeNames": NAMES})
    text = w.client.get("/metrics").get_data(as_text=True)
    assert 'fip_extender_request_seconds_count{verb="filter"}' in text
    assert 'fip_extender_node_rejections_total{reason="node_without_subnet"}' in text
    assert 'fip_extender_subnet_ips{state="total",subnet="dc1-c"} 2.0' in text
    w.store.lose_state()
    w.view.refresh()
    resp = w.client.get("/readyz")
    assert resp.status_code == 503
    assert any("lost" in p or "marker" in p for p in resp.get_json()["problems"])
    status, reply = w.post("filter", {"Pod": pod("web-0", owner=STS), "NodeNames": NAMES})
    assert status == 200 and reply["Error"].startswith("extender not ready")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)
_keys = st.sampled_from(
    [
        "Pod",
        "pod",
        "Nodes",
        "NodeNames",
        "nodenames",
        "PodName",
        "PodNamespace",
        "PodUID",
        "Node",
        "NodeNameToMetaVictims",
    ]
)
_bodies = st.one_of(
    _json,
    st.dictionaries(_keys, _json, max_size=5),
    st.dictionaries(
        _keys, st.just(pod("f", owner=STS)) | st.lists(st.sampled_from(NAMES)) | _json, max_size=4
    ),
)
_WORLD = world()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["filter", "prioritize", "bind", "preempt"]), _bodies)
def test_fuzz_decoder_never_500(verb: str, body: Any) -> None:
    resp = _WORLD.client.post(f"/fip/{verb}", data=json.dumps(body), content_type="application/json")
    assert resp.status_code in (200, 400), resp.get_data()
    assert resp.mimetype == "application/json"
    reply = resp.get_json()
    if resp.status_code == 400:
        assert reply["Error"]
    elif verb == "filter":
        assert isinstance(reply["NodeNames"], list) or isinstance(reply["Nodes"], dict) or reply["Error"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_raw_bytes(raw: bytes) -> None:
    resp = _WORLD.client.post("/fip/filter", data=raw, content_type="application/json")
    assert resp.status_code in (200, 400)
    assert resp.get_json()["Error"] is not None


def test_full_nodes_mode_reads_nodes_the_cache_does_not_know_from_the_body() -> None:
    w = world()
    items = [
        {"metadata": {"name": "fresh-b", "labels": {"fip.io/l2": "dc1-b"}}},
        {"metadata": {"name": "fresh-none", "labels": {}}},
        {"metadata": {"name": "dc1-a-n0", "labels": {"fip.io/l2": "dc1-c"}}},  # known: the cache wins
    ]
    body = go.extender_args(
        pod("x", annotations={"fip.io/subnets": "dc1-b,dc1-a"}), items, node_cache_capable=False
    )
    status, reply = w.post("filter", body, content_type="application/json")
    assert status == 200
    assert [n["metadata"]["name"] for n in reply["Nodes"]["items"]] == ["fresh-b", "dc1-a-n0"]
    assert reply["FailedNodes"]["fresh-none"].startswith("node fresh-none is in no fip Subnet")
    status, scores = w.post("prioritize", body, content_type="application/json")
    assert {s["Host"]: s["Score"] > 0 for s in scores} == {
        "fresh-b": True,
        "fresh-none": False,
        "dc1-a-n0": True,
    }
