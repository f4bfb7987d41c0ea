"""Label and field selectors as kube-apiserver parses and matches them."""

from __future__ import annotations

import pytest

from lab.apiserver.resources import POD_FIELDS
from lab.apiserver.selectors import field_matcher, field_value, label_matcher
from lab.apiserver.status import APIError

POD_SELECTABLE = ("metadata.name", "metadata.namespace", *POD_FIELDS)


def obj(labels: dict[str, str] | None = None, **extra: object) -> dict[str, object]:
    return {"metadata": {"name": "p", "namespace": "ns", "labels": labels or {}}, **extra}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "db"}, False),
        ("app!=web", {}, True),
        ("app", {"app": ""}, True),
        ("!app", {"app": "x"}, False),
        ("env in (a, b),tier notin (x)", {"env": "b"}, True),
        ("env in (a,b)", {}, False),
        ("env notin (a,b)", {}, True),
        ("a=1,b=2", {"a": "1", "b": "3"}, False),
        ("fip.io/l2=dc1-a", {"fip.io/l2": "dc1-a"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    matcher = label_matcher(selector)
    assert matcher is not None and matcher(obj(labels)) is expected


@pytest.mark.parametrize("bad", ["app=(", "a in b", "x y", "!a=b"])
def test_label_selector_syntax_errors_are_400(bad: str) -> None:
    with pytest.raises(APIError) as err:
        label_matcher(bad)
    assert err.value.code == 400


def test_field_selectors() -> None:
    pod = obj(
        spec={"nodeName": "n1", "hostNetwork": False},
        status={"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]},
    )
    m = field_matcher("spec.nodeName=n1,status.phase!=Pending", POD_SELECTABLE, "Pod")
    assert m is not None and m(pod)
    m = field_matcher("spec.nodeName=", POD_SELECTABLE, "Pod")
    assert m is not None and not m(pod) and m(obj())
    assert field_value(pod, "spec.hostNetwork") == "false"
    assert field_value(pod, "status.podIP") == "10.0.0.5"
    assert label_matcher("") is None and field_matcher(None, POD_SELECTABLE, "Pod") is None


def test_unknown_field_label_is_400() -> None:
    with pytest.raises(APIError) as err:
        field_matcher("spec.containers=x", POD_SELECTABLE, "Pod")
    assert err.value.code == 400 and "field label not supported" in err.value.message
