"""Subnet / Pool resources -> store, status back; bad input (malformed and overlapping Subnets,
invalid policy and pool annotations, odd owner chains): a condition or event, a log line, and no
IP freed or taken by mistake."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ctl_kit import SUBNET, by_ip, check_clean, lab_with_controllers, settle
from fabric import NS, Lab, bare_pod, statefulset

from fip.core.spec import subnet_to_resource
from fip.core.subnet import NodeSelection, Subnet
from fip.kube.resources import CONFIGMAPS, EVENTS, PODS, POOLS, REPLICASETS, STATEFULSETS, SUBNETS
from fip.store.memory import MemoryStore
from lab.wait import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Lab, Any]]:
    store = MemoryStore()
    store.initialise()
    yield from lab_with_controllers(tmp_path, store)


def cond(obj: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return None


def subnet_obj(lab: Lab, name: str) -> dict[str, Any] | None:
    from fip.kube.errors import NotFound

    try:
        return lab.client.get(SUBNETS, name)
    except NotFound:
        return None


def test_status_counts_and_ready_condition(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(STATEFULSETS, statefulset("web", 3), NS)
    settle(lab, {"web-0", "web-1", "web-2"}, 3)

    def counted() -> dict[str, Any] | None:
        st = (subnet_obj(lab, SUBNET.name) or {}).get("status") or {}
        return st if st.get("allocated") == 3 else None

    st = wait_for(counted, 15, "status allocated=3")
    assert (st["total"], st["reserved"], st["free"]) == (SUBNET.total(), 0, SUBNET.total() - 3)
    ready = cond(subnet_obj(lab, SUBNET.name), "Ready")
    assert ready and ready["status"] == "True"


def test_deleting_a_subnet_in_use_is_refused_until_it_is_empty(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(STATEFULSETS, statefulset("web", 2), NS)
    settle(lab, {"web-0", "web-1"}, 2)
    wait_for(
        lambda: (
            "fip.io/subnet-in-use"
            in (subnet_obj(lab, SUBNET.name) or {}).get("metadata", {}).get("finalizers", [])
            or None
        ),
        10,
        "finalizer",
    )
    lab.client.delete(SUBNETS, SUBNET.name)
    blocked = wait_for(lambda: cond(subnet_obj(lab, SUBNET.name), "DeletionBlocked"), 10, "DeletionBlocked")
    assert blocked["status"] == "True" and blocked["reason"] == "InUse"
    assert SUBNET.name in {s.name for s in lab.store.subnets()}
    assert len(by_ip(lab.store)) == 2  # nothing freed
    lab.client.delete(STATEFULSETS, "web", NS)
    wait_for(lambda: subnet_obj(lab, SUBNET.name) is None or None, 20, "Subnet deleted once empty")
    assert SUBNET.name not in {s.name for s in lab.store.subnets()}


def test_malformed_and_overlapping_subnets_get_conditions_and_stay_out(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    overlap = Subnet(
        "dc1-b",
        ipaddress.ip_network("10.0.1.128/25"),
        ipaddress.ip_address("10.0.1.129"),
        nodes=NodeSelection(match_labels=(("fip.io/l2", "dc1-b"),)),
    )
    lab.client.create(SUBNETS, subnet_to_resource(overlap))
    bad = subnet_to_resource(
        Subnet(
            "dc1-c",
            ipaddress.ip_network("10.0.3.0/24"),
            ipaddress.ip_address("10.0.3.1"),
            nodes=NodeSelection(match_labels=(("a", "b"),)),
        )
    )
    bad["spec"]["gateway"] = "10.0.4.1"  # outside the CIDR: the API accepts it, parse_subnet does not
    lab.client.create(SUBNETS, bad)
    over = wait_for(lambda: cond(subnet_obj(lab, "dc1-b"), "Ready"), 10, "dc1-b condition")
    assert over["status"] == "False" and over["reason"] == "Overlaps" and "dc1-a" in over["message"]
    inv = wait_for(lambda: cond(subnet_obj(lab, "dc1-c"), "Ready"), 10, "dc1-c condition")
    assert inv["status"] == "False" and inv["reason"] == "Invalid" and "gateway" in inv["message"]
    assert {s.name for s in lab.store.subnets()} == {"dc1-a"}
    events = lab.client.list(EVENTS, "default").get("items") or []
    assert {e["reason"] for e in events if e["involvedObject"]["name"] in ("dc1-b", "dc1-c")} >= {
        "Overlaps",
        "Invalid",
    }


def test_pool_synced_with_status(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    pool = {
        "apiVersion": "fip.io/v1",
        "kind": "Pool",
        "metadata": {"name": "shared"},
        "spec": {"subnet": "dc1-a", "size": 5, "namespaces": ["default"]},
    }
    lab.client.create(POOLS, pool)
    wait_for(lambda: "shared" in {p.name for p in lab.store.pools()} or None, 10, "pool in the store")
    st = wait_for(
        lambda: (lab.client.get(POOLS, "shared").get("status") or {}).get("free") == 5 or None, 10, "status"
    )
    assert st
    bad = {
        "apiVersion": "fip.io/v1",
        "kind": "Pool",
        "metadata": {"name": "nowhere"},
        "spec": {"subnet": "dc9-z", "size": 5, "namespaces": ["default"]},
    }
    lab.client.create(POOLS, bad)
    c = wait_for(lambda: cond(lab.client.get(POOLS, "nowhere"), "Ready"), 10, "condition")
    assert c["status"] == "False" and "nowhere" not in {p.name for p in lab.store.pools()}
    lab.client.delete(POOLS, "shared")
    wait_for(lambda: "shared" not in {p.name for p in lab.store.pools()} or None, 10, "pool removed")


def test_invalid_policy_annotation_frees_nothing_and_raises_an_event(env: tuple[Lab, Any]) -> None:
    lab, ctl = env
    lab.client.create(STATEFULSETS, statefulset("web", 2, "immutable"), NS)
    ips = settle(lab, {"web-0", "web-1"}, 2)
    # the template's policy goes bad; a pod's annotation goes bad too
    lab.client.patch(
        STATEFULSETS,
        "web",
        {"spec": {"template": {"metadata": {"annotations": {"fip.io/release-policy": "sometimes"}}}}},
        NS,
    )
    lab.client.patch(PODS, "web-0", {"metadata": {"annotations": {"fip.io/pool": "Not_A_Pool"}}}, NS)
    wait_for(
        lambda: (
            any(e["reason"] == "InvalidFipAnnotation" for e in lab.client.list(EVENTS, NS)["items"]) or None
        ),
        10,
        "an event",
    )
    ctl.run_reconcile_now()
    wait_for(lambda: ctl.reconciler.passes >= 2 or None, 10, "two reconcile passes")
    assert set(by_ip(lab.store)) == set(ips.values())


def test_odd_owner_chains_get_their_own_ips(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    # a ReplicaSet without a Deployment, and a pod owned by an unknown kind
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "lonely", "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "lonely"}},
            "template": statefulset("lonely", 1)["spec"]["template"],
        },
    }
    lab.client.create(REPLICASETS, rs, NS)
    cm = lab.client.create(
        CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gizmo"}}, NS
    )
    odd = bare_pod("odd")
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "gizmo",
        "uid": cm["metadata"]["uid"],
        "controller": True,
    }
    odd["metadata"]["ownerReferences"] = [ref]
    lab.client.create(PODS, odd, NS)
    ips = settle(lab, lambda i: len(i) == 2 and "odd" in i, 2)
    owners = {str(r.owner) for r in by_ip(lab.store).values()}
    assert f"{NS}/Pod/odd" in owners and any("/Pod/lonely-" in o for o in owners), owners
    check_clean(lab)
    lab.client.delete(REPLICASETS, "lonely", NS)
    lab.client.delete(PODS, "odd", NS)
    settle(lab, {}, 0)
    assert not set(ips.values()) & set(by_ip(lab.store))
    check_clean(lab)
