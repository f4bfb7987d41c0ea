"""ExtenderArgs and replies, byte for byte as Go's encoding/json writes and reads them."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.scheduler import wire

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "default", "uid": "u-1", "annotations": {"note": "a<b>&c"}},
    "spec": {"containers": [{"name": "c", "image": "x"}]},
}
NODES = [
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
    {"metadata": {"name": "n2", "labels": {"zone": "é"}}},
]


def test_filter_args_with_node_cache_capable_golden() -> None:
    assert wire.extender_args(POD, NODES, node_cache_capable=True) == (
        b'{"Pod":{"metadata":{"name":"web-0","namespace":"default","uid":"u-1",'
        b'"annotations":{"note":"a\\u003cb\\u003e\\u0026c"}},"spec":{"containers":[{"name":"c","image":"x"}]}},'
        b'"Nodes":null,"NodeNames":["n1","n2"]}'
    )


def test_filter_args_with_node_list_golden() -> None:
    assert wire.extender_args(POD, NODES, node_cache_capable=False).endswith(
        '"Nodes":{"metadata":{},"items":[{"metadata":{"name":"n1"}},'
        '{"metadata":{"name":"n2","labels":{"zone":"é"}}}]},"NodeNames":null}'.encode()
    )


def test_empty_candidate_list_is_an_empty_array_not_null() -> None:
    body = json.loads(wire.extender_args(POD, [], node_cache_capable=True))
    assert body["NodeNames"] == [] and body["Nodes"] is None


def test_binding_args_golden() -> None:
    assert wire.binding_args("web-0", "default", "u-1", "n1") == (
        b'{"PodName":"web-0","PodNamespace":"default","PodUID":"u-1","Node":"n1"}'
    )


def test_filter_reply_keys_match_case_insensitively_and_last_wins() -> None:
    body = b'{"nodenames":["a"],"NODENAMES":["b","c"],"failednodes":{"d":"full"},"error":"","Extra":1}'
    result = wire.filter_result(body)
    assert result.node_names == ["b", "c"]
    assert result.failed == {"d": "full"}
    assert result.nodes is None and result.error == ""


def test_filter_reply_null_fields_and_nodes_list() -> None:
    result = wire.filter_result(b'{"Nodes":{"items":[{"metadata":{"name":"n1"}}]},"NodeNames":null}')
    assert result.node_names is None
    assert result.nodes == [{"metadata": {"name": "n1"}}]
    assert wire.filter_result(b"null").node_names is None


def test_decoder_ignores_trailing_bytes_and_refuses_empty_body() -> None:
    assert wire.filter_result(b'{"Error":"boom"} trailing garbage').error == "boom"
    with pytest.raises(wire.WireError, match="EOF"):
        wire.filter_result(b"  \n")
    with pytest.raises(wire.WireError):
        wire.filter_result(b"<html>500</html>")


def test_priority_list_reads_int64_scores() -> None:
    body = b'[{"Host":"n1","Score":7},{"host":"n2","score":0},{"Host":"n3"}]'
    assert wire.priority_list(body) == [
        wire.HostPriority("n1", 7),
        wire.HostPriority("n2", 0),
        wire.HostPriority("n3", 0),
    ]


@pytest.mark.parametrize("score", ["7.0", "7.5", "1e1", '"7"', "true", "9223372036854775808", "{}"])
def test_non_integer_scores_fail_the_whole_reply_as_in_go(score: str) -> None:
    body = f'[{{"Host":"n1","Score":1}},{{"Host":"n2","Score":{score}}}]'.encode()
    with pytest.raises(wire.WireError, match="cannot unmarshal"):
        wire.priority_list(body)


def test_binding_result() -> None:
    assert wire.binding_result(b'{"Error":""}') == ""
    assert wire.binding_result(b'{"error":"no IP left"}') == "no IP left"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decoders_only_ever_raise_wire_errors(body: bytes) -> None:
    for decode in (wire.filter_result, wire.priority_list, wire.binding_result):
        with contextlib.suppress(wire.WireError):
            decode(body)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=10,
    )
)
def test_decoders_on_any_json_value(value: object) -> None:
    body = json.dumps(value).encode()
    for decode in (wire.filter_result, wire.priority_list, wire.binding_result):
        with contextlib.suppress(wire.WireError):
            decode(body)
