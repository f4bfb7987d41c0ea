"""More flows of ARCHITECTURE.md on the whole system: TApp instances, Pools, Services via eBPF.

- a TApp's instances (`immutable`) come back on their IPs when their pods are deleted;
- a Deployment naming the Pool `api-pool` gets IPs of the pool's subnet only, at most its size;
  a namespace the pool does not allow gets no IP from it (the pod is not bound; the scheduler
  says why);
- a pod on the macvlan node a3 (beside the node's stack) reaches a ClusterIP Service through
  fipd's eBPF datapath, and the answers come from the Service's backends;
- the invariants hold after every step, and after teardown zero pods means zero allocations.
"""
# ruff: noqa: F811  (the system fixture imported from system_lab is re-bound as a test parameter)

from __future__ import annotations

import json
from typing import Any

import pytest
from system_lab import NEEDS_ROOT, System, manifest, system  # noqa: F401  (system is a fixture)

from fip.kube.resources import EVENTS, NAMESPACES, PODS, SERVICES
from lab.kubelet.container import http_get
from lab.kubelet.sandboxes import netns_name
from lab.wait import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, NEEDS_ROOT]
Obj = dict[str, Any]


def template(app: str, annotations: dict[str, str], **spec: Any) -> Obj:
    return {
        "metadata": {"labels": {"app": app}, "annotations": annotations},
        "spec": {
            "containers": [{"name": app, "image": f"{app}:1", "resources": {"limits": {"fip.io/ip": "1"}}}],
            **spec,
        },
    }


def test_tapp_instances_keep_their_ips(system: System) -> None:
    tapp = {
        "apiVersion": "apps.tkestack.io/v1",
        "kind": "TApp",
        "metadata": {"name": "jobs", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "jobs"}},
            "template": template("jobs", {"fip.io/release-policy": "immutable"}),
        },
    }
    system.kubectl("apply", "-f", "-", stdin=manifest(tapp))
    before = {p["metadata"]["name"]: p["status"]["podIP"] for p in system.wait_pods("app=jobs", 2)}
    system.assert_invariants()
    for name in sorted(before):
        system.kubectl("delete", "pod", name, "--wait=true")
        again = {p["metadata"]["name"]: p["status"]["podIP"] for p in system.wait_pods("app=jobs", 2)}
        assert again[name] == before[name], f"TApp instance {name} came back on another IP"
    system.assert_invariants()


def test_a_pool_gives_ips_of_its_subnet_to_allowed_namespaces_only(system: System) -> None:
    pool = next(p for p in system.cfg.pools if p["metadata"]["name"] == "api-pool")
    size, subnet = int(pool["spec"]["size"]), str(pool["spec"]["subnet"])
    prefix = next(str(s.subnet.cidr) for s in system.cfg.subnets if s.subnet.name == subnet).rsplit(".", 1)[0]
    annotations = {"fip.io/release-policy": "immutable", "fip.io/pool": "api-pool"}
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "default"},
        "spec": {
            "replicas": size,
            "selector": {"matchLabels": {"app": "api"}},
            "template": template("api", annotations),
        },
    }
    system.kubectl("apply", "-f", "-", stdin=manifest(deploy))
    pods = system.wait_pods("app=api", size)
    assert all(p["status"]["podIP"].startswith(prefix + ".") for p in pods), [
        p["status"]["podIP"] for p in pods
    ]
    system.assert_invariants()
    system.client.create(NAMESPACES, {"metadata": {"name": "intruder"}})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": template("sneak", {})["spec"],
        "metadata": {"name": "sneak", "namespace": "intruder", "annotations": {"fip.io/pool": "api-pool"}},
    }
    system.kubectl("apply", "-f", "-", stdin=manifest(pod))

    def refused() -> list[Obj]:
        events = system.client.list(EVENTS, "intruder", field_selector="involvedObject.name=sneak")["items"]
        return [e for e in events if e.get("reason") == "FailedScheduling"]

    events = wait_for(refused, 30, "a FailedScheduling event for the pod outside the pool's namespaces")
    assert "pool" in events[-1]["message"].lower(), events[-1]["message"]
    assert not system.client.get(PODS, "sneak", "intruder")["spec"].get("nodeName")
    system.kubectl("delete", "namespace", "intruder", "--wait=true")
    system.kubectl("delete", "deployment", "api", "--wait=true")
    system.wait_gone("app=api")


def test_a_macvlan_pod_reaches_a_clusterip_through_ebpf(system: System) -> None:
    macvlan = next(n.name for n in system.cfg.nodes if n.mode == "macvlan")
    backends = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template("web", {}, nodeSelector={"fip.io/mode": "bridge"}),
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    client = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "client", "namespace": "default", "labels": {"app": "client"}},
        "spec": template("client", {}, nodeSelector={"kubernetes.io/hostname": macvlan})["spec"],
    }
    system.kubectl("apply", "-f", "-", stdin=manifest(backends, service, client))
    web = {p["metadata"]["uid"] for p in system.wait_pods("app=web", 2)}
    pod = system.wait_pods("app=client", 1)[0]
    cip = system.client.get(SERVICES, "web", "default")["spec"]["clusterIP"]
    ns = netns_name(system.prefix, pod["metadata"]["uid"])

    def answers() -> list[Obj] | None:
        try:
            return [json.loads(http_get(ns, cip, 80, timeout=2.0)) for _ in range(8)]
        except OSError:
            return None  # the endpoints may not be in the maps yet

    got = wait_for(answers, 30, f"{cip}:80 answering from the macvlan pod")
    assert {a["uid"] for a in got} <= web
    system.assert_invariants()
    system.kubectl("delete", "-f", "-", "--wait=true", stdin=manifest(backends, service, client))


def test_zero_pods_means_zero_allocations(system: System) -> None:
    system.kubectl("delete", "tapp", "jobs", "--wait=true")
    system.wait_gone("app in (jobs,api,web,client)")
    wait_for(lambda: system.allocations() == [], 60, "zero allocations after zero pods")
    code, out = system.fipctl_check()
    assert code == 0, out
