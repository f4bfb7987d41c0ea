"""Flows of ARCHITECTURE.md on the whole system, driven through kubectl, invariants after every step.

A StatefulSet with the `immutable` policy keeps each ordinal's IP through every reschedule (pod
deleted, node drained); its pods only ever land in the L2 domain of their IP; a Deployment
under the default `pod` policy gets fresh IPs; the legacy host accepts the whitelisted fixed
IPs and denies the others; scale-down and deletion free the IPs, and then zero pods means zero
allocations and `fipctl check` is clean.
"""
# ruff: noqa: F811  (the system fixture imported from system_lab is re-bound as a test parameter)

from __future__ import annotations

from typing import Any

import pytest
from system_lab import NEEDS_ROOT, System, manifest, system  # noqa: F401  (system is a fixture)

from lab.cluster.legacy import decisions, knock
from lab.kubelet.sandboxes import netns_name
from lab.wait import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, NEEDS_ROOT]
Obj = dict[str, Any]


def template(app: str, policy: str) -> Obj:
    return {
        "metadata": {"labels": {"app": app}, "annotations": {"fip.io/release-policy": policy}},
        "spec": {
            "containers": [{"name": app, "image": f"{app}:1", "resources": {"limits": {"fip.io/ip": "1"}}}]
        },
    }


def statefulset(name: str, replicas: int) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": "Parallel",
                 "selector": {"matchLabels": {"app": name}}, "template": template(name, "immutable")},
    }  # fmt: skip


def deployment(name: str, replicas: int) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": template(name, "pod")},
    }  # fmt: skip


def ips(pods: list[Obj]) -> dict[str, str]:
    return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}


def domain_of(system: System, node: str) -> str:
    return str(next(n.domain for n in system.cfg.nodes if n.name == node))


def test_statefulset_ips_are_sticky_through_every_reschedule(system: System) -> None:
    system.kubectl("apply", "-f", "-", stdin=manifest(statefulset("web", 3)))
    first = system.wait_pods("app=web", 3)
    before = ips(first)
    domains = {p["metadata"]["name"]: domain_of(system, p["spec"]["nodeName"]) for p in first}
    assert len(set(before.values())) == 3
    system.assert_invariants()
    reschedules = 0
    for _ in range(2):
        for name in sorted(before):
            old_uid = next(p for p in system.pods("app=web") if p["metadata"]["name"] == name)["metadata"][
                "uid"
            ]
            system.kubectl("delete", "pod", name, "--wait=true")
            pods = system.wait_pods("app=web", 3)
            again = next(p for p in pods if p["metadata"]["name"] == name)
            assert again["metadata"]["uid"] != old_uid
            assert again["status"]["podIP"] == before[name], f"{name} came back with another IP"
            assert domain_of(system, again["spec"]["nodeName"]) == domains[name]
            reschedules += 1
            system.assert_invariants()
    assert reschedules == 6  # 100% of them kept their IP (each asserted above)


def test_a_drained_node_moves_its_pods_within_their_domain_with_their_ips(system: System) -> None:
    pods = system.wait_pods("app=web", 3)
    before = ips(pods)
    node = pods[0]["spec"]["nodeName"]
    domain = domain_of(system, node)
    moved = [p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == node]
    system.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s")
    try:
        after = wait_for(lambda: _moved_off(system, node), 60, f"web pods off {node}")
        assert ips(after) == before
        for p in after:
            if p["metadata"]["name"] in moved:
                assert domain_of(system, p["spec"]["nodeName"]) == domain
        system.assert_invariants()
    finally:
        system.kubectl("uncordon", node)


def _moved_off(system: System, node: str) -> list[Obj] | None:
    pods = system.wait_pods("app=web", 3)
    return pods if all(p["spec"]["nodeName"] != node for p in pods) else None


def test_the_legacy_host_accepts_exactly_its_whitelisted_ips(system: System) -> None:
    host = next(s.legacy for s in system.cfg.subnets if s.subnet.name == "dc-a")
    assert host is not None
    allowed = {str(ip) for ip in host.allow}
    pods = system.wait_pods("app=web", 3)
    log = system.run.legacy_decisions("dc-a")
    seen = len(decisions(log))
    expected = []
    for p in pods:
        ip, ns = p["status"]["podIP"], netns_name(system.prefix, p["metadata"]["uid"])
        accepted = knock(ns, str(host.address), host.port)
        assert accepted == (ip in allowed), f"{p['metadata']['name']} ({ip}): accepted={accepted}"
        expected.append(("ACCEPT" if ip in allowed else "DENY", ip))
    assert decisions(log)[seen:] == expected


def test_deployment_pods_under_the_pod_policy_get_an_ip_each(system: System) -> None:
    system.kubectl("apply", "-f", "-", stdin=manifest(deployment("api", 2)))
    pods = system.wait_pods("app=api", 2)
    assert len(set(ips(pods).values())) == 2
    system.assert_invariants()
    system.kubectl("delete", "pod", pods[0]["metadata"]["name"], "--wait=true")
    system.wait_pods("app=api", 2)
    system.assert_invariants()


def test_scale_down_frees_ips_and_teardown_leaves_zero_allocations(system: System) -> None:
    before = ips(system.wait_pods("app=web", 3))
    system.kubectl("scale", "statefulset", "web", "--replicas=1")
    system.wait_pods("app=web", 1)
    freed = {before["web-1"], before["web-2"]}
    wait_for(lambda: not freed & {a.get("ip") for a in system.allocations()}, 30, "web-1/web-2's IPs freed")
    system.assert_invariants()
    system.kubectl("delete", "statefulset", "web", "--wait=true")
    system.kubectl("delete", "deployment", "api", "--wait=true")
    system.wait_gone("app in (web,api)")
    wait_for(lambda: system.allocations() == [], 30, "zero allocations after zero pods")
    code, out = system.fipctl_check()
    assert code == 0, out
