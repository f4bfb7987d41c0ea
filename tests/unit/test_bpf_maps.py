"""bpf.maps: Services + EndpointSlices -> map entries (pure), and the ordered difference."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bpf.maps import Address, Frontend, FrontendEntry, Limits, MapState, desired, plan


def svc(name: str, vip: str | list[str], ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    ips = vip if isinstance(vip, list) else [vip]
    return {
        "metadata": {"namespace": "ns", "name": name},
        "spec": {"clusterIP": ips[0], "clusterIPs": ips, "ports": ports, **spec},
    }


def eps(
    service: str,
    endpoints: list[tuple[str, dict[str, Any]]],
    ports: list[dict[str, Any]],
    address_type: str = "IPv4",
) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "ns",
            "name": f"{service}-x",
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": address_type,
        "endpoints": [{"addresses": [ip], "conditions": c} for ip, c in endpoints],
        "ports": ports,
    }


HTTP = [{"name": "http", "port": 80, "protocol": "TCP"}]
TARGET = [{"name": "http", "port": 8080, "protocol": "TCP"}]
FE = Frontend(IPv4Address("10.96.0.10"), 80, "TCP")


def test_ready_endpoints_become_sorted_slots() -> None:
    got = desired(
        [svc("web", "10.96.0.10", HTTP)],
        [
            eps(
                "web",
                [
                    ("10.0.1.9", {}),
                    ("10.0.1.3", {"ready": True}),
                    ("10.0.1.4", {"ready": False}),
                    ("10.0.1.5", {"terminating": True}),
                ],
                TARGET,
            )
        ],
        ids={},
        limits=Limits(),
    )
    assert got.state.services == {FE: FrontendEntry(1, 2, 0)}
    assert got.state.backends == {
        (1, 1): Address(IPv4Address("10.0.1.3"), 8080),
        (1, 2): Address(IPv4Address("10.0.1.9"), 8080),
    }
    assert got.state.revnat == {1: Address(IPv4Address("10.96.0.10"), 80)}
    assert got.problems == ()


def test_ids_are_kept_and_new_ones_take_free_numbers() -> None:
    other = Frontend(IPv4Address("10.96.0.11"), 80, "TCP")
    got = desired(
        [svc("a", "10.96.0.10", HTTP), svc("b", "10.96.0.11", HTTP)],
        [],
        ids={other: 1, Frontend(IPv4Address("10.96.0.99"), 1, "TCP"): 2},
        limits=Limits(),
    )
    assert got.state.services[other].id == 1
    assert got.state.services[FE].id == 2  # 2 is free again: its frontend is gone


def test_bad_input_becomes_problems_and_others_are_served() -> None:
    services = [
        svc("v6", "fd00::10", HTTP),
        svc("sctp", "10.96.0.20", [{"name": "s", "port": 9, "protocol": "SCTP"}, *HTTP]),
        svc("dup", "10.96.0.21", [*HTTP, {"name": "again", "port": 80, "protocol": "TCP"}]),
        svc("empty", "10.96.0.22", HTTP),
        svc("headless", "None", HTTP),
        {"metadata": {"namespace": "ns", "name": "ext"}, "spec": {"type": "ExternalName"}},
        svc("dual", ["10.96.0.23", "fd00::23"], HTTP, sessionAffinity="ClientIP"),
    ]
    slices = [eps(n, [("10.0.1.3", {})], TARGET) for n in ("sctp", "dup", "dual")]
    slices.append(eps("dual", [("fd00::3", {})], TARGET, address_type="IPv6"))
    got = desired(services, slices, ids={}, limits=Limits())
    text = "\n".join(map(str, got.problems))
    assert "ns/v6: ClusterIP fd00::10 is not IPv4" in text
    assert "ns/sctp: port 9/SCTP: protocol SCTP is not served" in text
    assert "ns/dup: port 80/TCP is listed twice" in text
    assert "ns/empty: port 80/TCP has no ready endpoints" in text
    assert "addressType IPv6 is not served" in text
    vips = {str(fe.vip): entry for fe, entry in got.state.services.items()}
    assert set(vips) == {"10.96.0.20", "10.96.0.21", "10.96.0.22", "10.96.0.23"}
    assert vips["10.96.0.22"].count == 0
    assert vips["10.96.0.23"].affinity_timeout == 10800


def test_more_services_than_the_map_holds() -> None:
    services = [svc(f"s{i}", f"10.96.1.{i}", HTTP) for i in range(1, 11)]
    loaded = Frontend(IPv4Address("10.96.1.9"), 80, "TCP")
    got = desired(services, [], ids={loaded: 7}, limits=Limits(services=4))
    assert len(got.state.services) == 4
    assert loaded in got.state.services  # what is loaded keeps its place
    assert sum("not loaded" in str(p) for p in got.problems) == 6


def test_plan_writes_backends_before_frontends_and_deletes_after() -> None:
    old = desired(
        [svc("web", "10.96.0.10", HTTP)],
        [eps("web", [("10.0.1.3", {}), ("10.0.1.4", {})], TARGET)],
        ids={},
        limits=Limits(),
    ).state
    new = desired(
        [svc("web", "10.96.0.10", HTTP)],
        [eps("web", [("10.0.1.5", {})], TARGET)],
        ids={FE: 1},
        limits=Limits(),
    ).state
    steps = [(s.map, s.op) for s in plan(old, new)]
    assert steps == [("backends", "put"), ("services", "put"), ("backends", "delete")]


addresses = st.builds(
    lambda a, p: Address(IPv4Address(a), p), st.integers(0, 2**32 - 1), st.integers(1, 65535)
)
states = st.builds(
    MapState,
    services=st.dictionaries(
        st.builds(lambda a: Frontend(IPv4Address(a), 80, "TCP"), st.integers(0, 50)),
        st.builds(FrontendEntry, st.integers(1, 9), st.integers(0, 3)),
        max_size=6,
    ),
    backends=st.dictionaries(st.tuples(st.integers(1, 9), st.integers(1, 3)), addresses, max_size=8),
    revnat=st.dictionaries(st.integers(1, 9), addresses, max_size=6),
)


@settings(max_examples=200, deadline=None)
@given(states, states)
def test_plan_applied_gives_the_wanted_state(have: MapState, want: MapState) -> None:
    maps: dict[str, dict[Any, Any]] = {
        "services": dict(have.services),
        "backends": dict(have.backends),
        "revnat": dict(have.revnat),
    }
    for step in plan(have, want):
        if step.op == "put":
            maps[step.map][step.key] = step.value
        else:
            del maps[step.map][step.key]
    assert MapState(maps["services"], maps["backends"], maps["revnat"]) == want
    assert plan(want, want) == []
