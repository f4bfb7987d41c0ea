"""Patch semantics of the fake API server (RFC 7386, RFC 6902, strategic merge for fip's lists)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.apiserver.patch import PatchError, json_patch, merge_patch, strategic_merge_patch

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=4), json_values, max_size=4)


def test_merge_patch_rfc7386_examples() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}}
    assert merge_patch(target, {"a": "z", "c": {"f": None}}) == {"a": "z", "c": {"d": "e"}}
    assert merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}
    assert merge_patch({"a": "b"}, {"a": {"x": 1}}) == {"a": {"x": 1}}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


@settings(max_examples=150, deadline=None)
@given(json_objects, json_objects)
def test_merge_patch_never_mutates_and_nulls_delete(target: dict[str, Any], patch: dict[str, Any]) -> None:
    before_t, before_p = copy.deepcopy(target), copy.deepcopy(patch)
    out = merge_patch(target, patch)
    assert target == before_t and patch == before_p
    for key, value in patch.items():
        if value is None:
            assert key not in out
        elif not isinstance(value, dict):
            assert out[key] == value


@settings(max_examples=150, deadline=None)
@given(json_objects, json_objects)
def test_json_patch_replace_ops_reach_target(source: dict[str, Any], target: dict[str, Any]) -> None:
    ops: list[dict[str, Any]] = [
        {"op": "remove", "path": "/" + k.replace("~", "~0").replace("/", "~1")} for k in source
    ]
    ops += [
        {"op": "add", "path": "/" + k.replace("~", "~0").replace("/", "~1"), "value": v}
        for k, v in target.items()
    ]
    assert json_patch(source, ops) == target


def test_json_patch_ops_and_failures() -> None:
    doc = {"metadata": {"labels": {"a": "1"}, "finalizers": ["x", "y"]}}
    out = json_patch(
        doc,
        [
            {"op": "test", "path": "/metadata/labels/a", "value": "1"},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "z"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
            {"op": "replace", "path": "/metadata/labels/a", "value": "2"},
            {"op": "copy", "from": "/metadata/labels/a", "path": "/metadata/labels/b"},
            {"op": "move", "from": "/metadata/labels/b", "path": "/metadata/labels/c"},
        ],
    )
    assert out == {"metadata": {"labels": {"a": "2", "c": "2"}, "finalizers": ["y", "z"]}}
    assert doc["metadata"]["finalizers"] == ["x", "y"]  # input untouched
    with pytest.raises(PatchError) as err:
        json_patch(doc, [{"op": "test", "path": "/metadata/labels/a", "value": "9"}])
    assert not err.value.bad_format
    with pytest.raises(PatchError) as err:
        json_patch(doc, [{"op": "replace", "path": "/missing/x", "value": 1}])
    assert not err.value.bad_format
    with pytest.raises(PatchError) as err:
        json_patch(doc, {"op": "add"})
    assert err.value.bad_format
    with pytest.raises(PatchError) as err:
        json_patch(doc, [{"op": "frobnicate", "path": "/a"}])
    assert err.value.bad_format


def test_strategic_merge_lists_fip_uses() -> None:
    pod = {
        "metadata": {
            "finalizers": ["a"],
            "ownerReferences": [{"uid": "u1", "name": "rs"}, {"uid": "u2", "name": "other"}],
        },
        "spec": {
            "containers": [
                {"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}]},
                {"name": "side", "image": "s"},
            ],
            "tolerations": [{"key": "k"}],
        },
        "status": {"conditions": [{"type": "Ready", "status": "False"}]},
    }
    patch = {
        "metadata": {"finalizers": ["b", "a"], "ownerReferences": [{"uid": "u2", "$patch": "delete"}]},
        "spec": {
            "containers": [
                {"name": "app", "env": [{"name": "B", "value": "2"}]},
                {"name": "new", "image": "n"},
            ],
            "tolerations": [{"key": "t"}],
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]
        },
    }
    out = strategic_merge_patch(pod, patch)
    assert out["metadata"]["finalizers"] == ["a", "b"]
    assert out["metadata"]["ownerReferences"] == [{"uid": "u1", "name": "rs"}]
    assert [c["name"] for c in out["spec"]["containers"]] == ["app", "side", "new"]
    assert out["spec"]["containers"][0] == {
        "name": "app",
        "image": "v1",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
    }
    assert out["spec"]["tolerations"] == [{"key": "t"}]  # no patch strategy: replace
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
    ]


def test_strategic_merge_directives() -> None:
    obj = {
        "metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"]},
        "spec": {"ports": [{"port": 80}]},
    }
    assert strategic_merge_patch(obj, {"metadata": {"labels": {"$patch": "replace", "c": "3"}}})["metadata"][
        "labels"
    ] == {"c": "3"}
    assert strategic_merge_patch(obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}})[
        "metadata"
    ]["finalizers"] == ["y"]
    out = strategic_merge_patch(
        obj, {"spec": {"ports": [{"port": 443}], "$setElementOrder/ports": [{"port": 80}]}}
    )
    assert out["spec"]["ports"] == [{"port": 80}, {"port": 443}]  # Service ports merge by port
    assert strategic_merge_patch(obj, {"metadata": {"labels": None}})["metadata"] == {
        "finalizers": ["x", "y"]
    }
