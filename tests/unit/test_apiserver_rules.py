"""The fake API server's small interpreters: the CEL subset, timestamp re-encoding, field ownership."""

from __future__ import annotations

import pytest

from lab.apiserver import apply, cel, timestamps
from lab.apiserver.status import APIError


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ("has(self.nodeSelector) || has(self.nodeCIDRs)", {"cidr": "x"}, False),
        ("has(self.nodeSelector) || has(self.nodeCIDRs)", {"nodeCIDRs": []}, True),
        ("self.size >= 1 && self.name.startsWith('a')", {"size": 2, "name": "ab"}, True),
        ("self.items.all(x, x > 0)", {"items": []}, True),
        ("self.items.all(x, (x > 0))", {"items": [1, -1]}, False),
        ("self.items.exists(x, x > 1) && size(self.items) == 2", {"items": [1, 3]}, True),
        ("!has(self.a.b) ? true : false", {"a": {}}, True),
        ("self.x in [1, 2] && self.s.matches('^a+$')", {"x": 2, "s": "aa"}, True),
    ],
)
def test_cel_subset(rule: str, value: object, expected: bool) -> None:
    assert cel.evaluate(rule, value) is expected


@pytest.mark.parametrize("rule", ["oldSelf == self", "self.x.frobnicate()", "self.missing > 1", "self @ 1"])
def test_cel_outside_the_subset_is_unsupported(rule: str) -> None:
    with pytest.raises(cel.Unsupported):
        cel.evaluate(rule, {"x": "a"})


def test_timestamps() -> None:
    lease = {
        "spec": {"renewTime": "2026-01-02T03:04:05.123456+00:00", "acquireTime": "2026-01-02T05:04:05+02:00"}
    }
    timestamps.normalize("Lease", lease)
    assert lease["spec"] == {
        "renewTime": "2026-01-02T03:04:05.123456Z",
        "acquireTime": "2026-01-02T03:04:05.000000Z",
    }
    pod = {"status": {"conditions": [{"type": "Ready", "lastTransitionTime": "2026-01-02T03:04:05.9Z"}]}}
    timestamps.normalize("Pod", pod)
    assert pod["status"]["conditions"][0]["lastTransitionTime"] == "2026-01-02T03:04:05Z"
    with pytest.raises(APIError) as err:
        timestamps.normalize("Event", {"firstTimestamp": "yesterday"})
    assert err.value.code == 400


def test_apply_ownership_round_trip() -> None:
    paths = apply.leaf_paths(
        {"apiVersion": "v1", "metadata": {"name": "x", "labels": {"a": "1"}}, "data": {"k": "v"}}
    )
    assert paths == {("metadata", "labels", "a"), ("data", "k")}
    assert apply.from_fields(apply.to_fields(paths)) == paths
    made = apply.apply(
        None,
        {"metadata": {"name": "x"}, "data": {"a": "1", "z": "9"}},
        "m1",
        force=False,
        api_version="v1",
        now="t",
    )
    again = apply.apply(
        made, {"metadata": {"name": "x"}, "data": {"a": "1"}}, "m1", force=False, api_version="v1", now="t"
    )
    assert again["data"] == {"a": "1"}
    with pytest.raises(APIError) as err:
        apply.apply(
            again,
            {"metadata": {"name": "x"}, "data": {"a": "2"}},
            "m2",
            force=False,
            api_version="v1",
            now="t",
        )
    assert err.value.code == 409
    forced = apply.apply(
        again, {"metadata": {"name": "x"}, "data": {"a": "2"}}, "m2", force=True, api_version="v1", now="t"
    )
    assert forced["data"] == {"a": "2"} and [e["manager"] for e in forced["metadata"]["managedFields"]] == [
        "m2"
    ]
