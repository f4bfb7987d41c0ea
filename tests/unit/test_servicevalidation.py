"""The lab API server's Service / EndpointSlice rules (lab.apiserver.servicevalidation), through
the same `specs.causes` path every create and update takes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.apiserver import servicevalidation, specs
from lab.apiserver.resources import BUILTIN, Registry

REG = Registry(list(BUILTIN))
SERVICES, SLICES = REG.lookup("services"), REG.lookup("endpointslices")


def svc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80}]}
    base.update(spec)
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": base}


def fields(obj: dict[str, Any], rt: Any = SERVICES) -> list[tuple[str, str]]:
    return [(f, reason) for f, reason, _ in specs.causes(rt, obj)]


def test_a_plain_service_passes() -> None:
    assert fields(svc(clusterIPs=["10.96.0.10"], sessionAffinity="ClientIP",
                      sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})) == []  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "expect"),
    [
        ({"ports": [{"name": "x", "port": 80, "protocol": "ICMP"}]},
         ("spec.ports[0].protocol", "FieldValueNotSupported")),
        ({"ports": [{"name": "Http", "port": 80}]}, ("spec.ports[0].name", "FieldValueInvalid")),
        ({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]},
         ("spec.ports[1].name", "FieldValueDuplicate")),
        ({"ports": [{"name": "a", "port": 80, "targetPort": 70000}]},
         ("spec.ports[0].targetPort", "FieldValueInvalid")),
        ({"ports": [{"name": "a", "port": 80, "targetPort": "1234"}]},
         ("spec.ports[0].targetPort", "FieldValueInvalid")),
        ({"clusterIP": "10.96.0.300"}, ("spec.clusterIPs[0]", "FieldValueInvalid")),
        ({"clusterIPs": ["10.96.0.11"]}, ("spec.clusterIPs", "FieldValueInvalid")),
        ({"clusterIPs": ["10.96.0.10", "10.96.0.12"]}, ("spec.clusterIPs[1]", "FieldValueInvalid")),
        ({"sessionAffinity": "Sticky"}, ("spec.sessionAffinity", "FieldValueNotSupported")),
        ({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}},
         ("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "FieldValueInvalid")),
        ({"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}},
         ("spec.sessionAffinityConfig", "FieldValueInvalid")),
    ],
)  # fmt: skip
def test_service_rules(spec: dict[str, Any], expect: tuple[str, str]) -> None:
    assert expect in fields(svc(**spec))


def test_dual_stack_and_headless_pass() -> None:
    assert fields(svc(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10", "fd00::10"])) == []
    assert fields(svc(clusterIP="None", clusterIPs=["None"])) == []


def eps(address_type: str = "IPv4", addresses: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": "web-1", "namespace": "default"},
        "addressType": address_type,
        "endpoints": [{"addresses": addresses if addresses is not None else ["10.0.1.5"]}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }
    body.update(extra)
    return body


def test_endpointslice_rules() -> None:
    assert fields(eps(), SLICES) == []
    assert ("endpoints[0].addresses[0]", "FieldValueInvalid") in fields(eps(addresses=["fd00::1"]), SLICES)
    assert ("endpoints[0].addresses[0]", "FieldValueInvalid") in fields(eps("IPv6", ["10.0.1.5"]), SLICES)
    assert ("endpoints[0].addresses", "FieldValueRequired") in fields(eps(addresses=[]), SLICES)
    bad_port = eps(ports=[{"name": "x", "port": 0, "protocol": "TCP"}, {"name": "x", "protocol": "ICMP"}])
    got = fields(bad_port, SLICES)
    assert ("ports[0].port", "FieldValueInvalid") in got
    assert ("ports[1].name", "FieldValueDuplicate") in got
    assert ("ports[1].protocol", "FieldValueNotSupported") in got
    many = eps(endpoints=[{"addresses": ["10.0.1.5"]}] * 1001)
    assert ("endpoints", "FieldValueTooMany") in fields(many, SLICES)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
            ["port", "protocol", "name", "targetPort", "addresses", "clientIP", "timeoutSeconds"]), inner,
            max_size=4),
        max_leaves=12,
    )
)  # fmt: skip
def test_garbage_never_crashes(value: Any) -> None:
    for rt, obj in ((SERVICES, svc(ports=value, clusterIPs=value, sessionAffinityConfig=value)),
                    (SLICES, eps(endpoints=value, ports=value))):  # fmt: skip
        servicevalidation.causes(rt, obj)  # odd values are causes or ignored, never an exception
