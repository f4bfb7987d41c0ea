"""Input validation of the fake API server: names, envelopes, unknown fields, CRD schemas."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.apiserver import schema, specs, validation
from lab.apiserver.resources import BUILTIN, Registry, from_crd
from lab.apiserver.status import APIError

REG = Registry(list(BUILTIN))
PODS, NAMESPACES = REG.lookup("pods"), REG.lookup("namespaces")


@pytest.mark.parametrize(
    ("name", "ok_subdomain", "ok_label"),
    [
        ("web-0", True, True),
        ("a.b", True, False),
        ("Web", False, False),
        ("-a", False, False),
        ("a" * 64, True, False),
        ("a" * 254, False, False),
    ],
)
def test_dns1123_names(name: str, ok_subdomain: bool, ok_label: bool) -> None:
    assert (not validation.name_causes(PODS, name)) is ok_subdomain
    assert (not validation.name_causes(NAMESPACES, name)) is ok_label


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcXYZ019-._", min_size=1, max_size=70))
def test_name_check_agrees_with_the_rfc(name: str) -> None:
    def label_ok(label: str) -> bool:
        allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
        return bool(label) and set(label) <= allowed and label[0] != "-" and label[-1] != "-"

    rfc_ok = len(name) <= 253 and all(label_ok(part) for part in name.split("."))
    assert (not validation.name_causes(PODS, name)) is rfc_ok


@pytest.mark.parametrize(
    "body",
    [
        [],
        "x",
        {"metadata": "x"},
        {"spec": []},
        {"kind": "Service"},
        {"apiVersion": "apps/v1"},
        {"metadata": {"labels": {"a": 1}}},
    ],
)
def test_envelope_errors_are_400(body: Any) -> None:
    with pytest.raises(APIError) as err:
        validation.check_shape(PODS, body)
    assert err.value.code == 400 and err.value.reason == "BadRequest"


def test_unknown_fields_builtin() -> None:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "bogus": 1}, "spec": {}, "extra": 2}
    assert validation.unknown_fields(PODS, body) == ["extra", "metadata.bogus"]
    validation.drop_fields(body, ["extra", "metadata.bogus"])
    assert body == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {}}
    assert (
        validation.unknown_fields(REG.lookup("configmaps"), {"data": {}, "binaryData": {}, "immutable": True})
        == []
    )


def test_unknown_fields_per_group() -> None:
    eps = {"addressType": "IPv4", "endpoints": [], "ports": [], "spec": {}}
    assert validation.unknown_fields(REG.lookup("endpointslices"), eps) == ["spec"]
    assert validation.unknown_fields(REG.lookup("controllerrevisions"), {"data": {}, "revision": 1}) == []
    v1_event = {"note": "n", "regarding": {}, "message": "a core/v1 field"}
    assert validation.unknown_fields(REG.lookup("events.events.k8s.io"), v1_event) == ["message"]


def test_update_rules() -> None:
    old = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "a"}], "nodeName": "n1"}}
    new_image = {**old, "spec": {"containers": [{"name": "c", "image": "b"}], "nodeName": "n1"}}
    assert specs.update_causes(PODS, old, new_image) == []
    moved = {**old, "spec": {"containers": [{"name": "c", "image": "a"}], "nodeName": "n2"}}
    ((field, _, message),) = specs.update_causes(PODS, old, moved)
    assert field == "spec" and "pod updates may not change fields" in message
    cms = REG.lookup("configmaps")
    frozen = {"immutable": True, "data": {"a": "1"}}
    assert [c[0] for c in specs.update_causes(cms, frozen, {"immutable": True, "data": {"a": "2"}})] == [
        "data"
    ]
    assert specs.update_causes(cms, frozen, {**frozen, "metadata": {"labels": {"x": "y"}}}) == []
    deploy = REG.lookup("deployments")
    spec = {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}}}
    other = {"selector": {"matchLabels": {"app": "b"}}, "template": {"metadata": {"labels": {"app": "b"}}}}
    assert [c[0] for c in specs.update_causes(deploy, {"spec": spec}, {"spec": other})] == ["spec.selector"]


def test_extended_resources() -> None:
    def pod(resources: dict[str, Any]) -> dict[str, Any]:
        return {"containers": [{"name": "c", "image": "i", "resources": resources}]}

    assert specs.pod_causes(pod({"limits": {"fip.io/ip": "1"}, "requests": {"fip.io/ip": "1"}})) == []
    assert specs.pod_causes(pod({"requests": {"cpu": "500m"}})) == []
    for bad in (
        {"requests": {"fip.io/ip": "1"}},
        {"requests": {"fip.io/ip": "1"}, "limits": {"fip.io/ip": "2"}},
        {"limits": {"fip.io/ip": "500m"}},
    ):
        assert specs.pod_causes(pod(bad)), bad


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "things.example.io"},
    "spec": {
        "group": "example.io",
        "scope": "Cluster",
        "names": {"plural": "things", "kind": "Thing", "singular": "thing"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                                    "mode": {"type": "string", "enum": ["a", "b"]},
                                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                },
                            },
                            "status": {"type": "object", "additionalProperties": {"type": "integer"}},
                        },
                    }
                },
            }
        ],
    },
}


def test_crd_schema_validation_and_pruning() -> None:
    (rt,) = from_crd(CRD)
    assert rt.key == "things.example.io" and not rt.namespaced and rt.has_status
    obj: dict[str, Any] = {
        "metadata": {"name": "t"},
        "spec": {"size": 3, "junk": 1, "free": {"any": 1}},
        "junk": 2,
    }
    validation.validate(rt, obj)
    assert obj == {"metadata": {"name": "t"}, "spec": {"size": 3, "free": {"any": 1}}}
    assert schema.unknown({"spec": {"size": 1, "x": 1}, "y": 1}, rt.schema or {}) == [
        ".spec.x",
        ".y",
    ]
    for bad in ({"size": 0}, {"size": "3"}, {"size": 2, "mode": "c"}, {}):
        with pytest.raises(APIError) as err:
            validation.validate(rt, {"metadata": {"name": "t"}, "spec": dict(bad)})
        assert err.value.code == 422 and err.value.message.startswith('Thing.example.io "t" is invalid')
