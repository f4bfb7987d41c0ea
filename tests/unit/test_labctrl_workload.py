"""Pure parts of the lab's workload controllers: slices from pods, hashes, selectors, ranks."""

from __future__ import annotations

from typing import Any

import pytest

from lab.workloads import workload
from lab.workloads.deployment import resolve
from lab.workloads.endpointslice import desired_slices
from lab.workloads.replicaset import _deletion_rank

SVC = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
}


def pod(
    name: str, ip: str | None, ready: bool = True, port: int | None = 8080, **meta: Any
) -> dict[str, Any]:
    ports = [{"name": "http", "containerPort": port}] if port else []
    status: dict[str, Any] = {"phase": meta.pop("phase", "Running")}
    status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", **meta},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports}]},
        "status": status,
    }


def test_slices_list_every_pod_with_an_ip_and_its_conditions() -> None:
    pods = [
        pod("a", "10.0.0.1"),
        pod("b", "10.0.0.2", ready=False),
        pod("c", "10.0.0.3", deletionTimestamp="2026-01-01T00:00:00Z"),
        pod("d", None),
        pod("e", "10.0.0.5", phase="Succeeded"),
        pod("f", "10.0.0.6", port=9090),
        pod("g", "10.0.0.7", port=None),  # named port missing: not an endpoint of this service
    ]
    slices = desired_slices(SVC, pods)
    assert set(slices) == {("IPv4", (("http", "TCP", 8080),)), ("IPv4", (("http", "TCP", 9090),))}
    main = slices[("IPv4", (("http", "TCP", 8080),))]
    assert [(e["addresses"][0], e["conditions"]) for e in main] == [
        ("10.0.0.1", {"ready": True, "serving": True, "terminating": False}),
        ("10.0.0.2", {"ready": False, "serving": False, "terminating": False}),
        ("10.0.0.3", {"ready": False, "serving": True, "terminating": True}),
    ]
    assert main[0]["targetRef"] == {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}
    assert main[0]["nodeName"] == "n1"


def test_dual_stack_services_get_one_slice_per_family() -> None:
    svc = {**SVC, "spec": {**SVC["spec"], "ipFamilies": ["IPv4", "IPv6"]}}
    p = pod("a", "10.0.0.1")
    p["status"]["podIPs"] = [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]
    slices = desired_slices(svc, [p])
    assert {family: [e["addresses"] for e in eps] for (family, _), eps in slices.items()} == {
        "IPv4": [["10.0.0.1"]],
        "IPv6": [["fd00::1"]],
    }


def test_template_hash_is_stable_and_safe() -> None:
    t1 = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    t2 = {"spec": {"containers": [{"image": "a", "name": "c"}]}, "metadata": {"labels": {"app": "x"}}}
    assert workload.template_hash(t1) == workload.template_hash(t2)
    assert workload.template_hash(t1) != workload.template_hash({**t1, "spec": {}})
    assert workload.template_hash(t1) != workload.template_hash(t1, collision_count=1)
    assert set(workload.template_hash(t1)) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_selectors() -> None:
    sel = {
        "matchLabels": {"app": "web", "tier": "fe"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["a", "b"]},
            {"key": "x", "operator": "DoesNotExist"},
        ],
    }
    assert workload.selector_string(sel) == "app=web,tier=fe,env in (a,b),!x"
    assert workload.matches(sel, {"app": "web", "tier": "fe", "env": "b"})
    assert not workload.matches(sel, {"app": "web", "tier": "fe", "env": "b", "x": "1"})
    assert not workload.matches({}, {"app": "web"})  # an empty selector selects nothing


def test_scale_down_removes_unscheduled_then_not_ready_then_newest_first() -> None:
    unscheduled = pod("u", None)
    unscheduled["spec"].pop("nodeName")
    not_ready = pod("n", "10.0.0.2", ready=False)
    old = pod("o", "10.0.0.3", creationTimestamp="2026-01-01T00:00:00Z")
    new = pod("w", "10.0.0.4", creationTimestamp="2026-01-02T00:00:00Z")
    ranked = sorted([old, new, not_ready, unscheduled], key=_deletion_rank)
    assert [p["metadata"]["name"] for p in ranked] == ["u", "n", "w", "o"]


@pytest.mark.parametrize(
    ("value", "total", "up", "expected"),
    [("25%", 4, True, 1), ("25%", 3, True, 1), ("25%", 3, False, 0), (2, 10, True, 2)],
)
def test_int_or_percent(value: object, total: int, up: bool, expected: int) -> None:
    assert resolve(value, total, round_up=up) == expected
