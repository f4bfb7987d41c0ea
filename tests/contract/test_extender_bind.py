"""bind: allocate atomically and idempotently, POST the Binding with the allocation annotation
and the UID precondition, and leave nothing behind when the Binding fails."""

from __future__ import annotations

from typing import Any

import pytest
from extender_kit import NAMES, World, pod, world

from fip.core import annotation
from fip.core.record import IPState
from fip.kube.errors import Conflict, KubeUnavailable, NotFound

STS = ("apps/v1", "StatefulSet", "web")
IMMUTABLE = {"fip.io/release-policy": "immutable"}


def bind(w: World, name: str, node: str, uid: str = "", ns: str = "default") -> str:
    status, reply = w.post(
        "bind", {"PodName": name, "PodNamespace": ns, "PodUID": uid or f"uid-{name}", "Node": node}
    )
    assert status == 200
    assert list(reply) == ["Error"]
    return str(reply["Error"])


def records(w: World) -> list[Any]:
    return [r for s in ("dc1-a", "dc1-b", "dc1-c") for r in w.store.by_subnet(s)]


def test_bind_allocates_in_the_nodes_subnet_and_annotates() -> None:
    w = world()
    w.kube.add(pod("web-0", owner=STS, annotations=IMMUTABLE))
    assert bind(w, "web-0", "dc1-b-n1") == ""
    ns, name, uid, node, notes = w.kube.bindings[0]
    assert (ns, name, uid, node) == ("default", "web-0", "uid-web-0", "dc1-b-n1")
    alloc = annotation.parse(notes[annotation.KEY])
    assert (str(alloc.ip), alloc.prefix, str(alloc.gateway), alloc.vlan, alloc.subnet) == (
        "10.0.2.10",
        24,
        "10.0.2.1",
        2,
        "dc1-b",
    )
    assert alloc.owner.encode() == "default/StatefulSet/web/0"
    [rec] = records(w)
    assert (rec.pod_uid, rec.node, rec.state) == ("uid-web-0", "dc1-b-n1", IPState.ALLOCATED)


def test_a_retried_bind_is_idempotent() -> None:
    w = world()
    w.kube.add(pod("web-0", owner=STS))
    assert bind(w, "web-0", "dc1-a-n0") == ""
    # the scheduler retries (the reply was lost): same IP, no second record, still success
    assert bind(w, "web-0", "dc1-a-n0") == ""
    assert len(records(w)) == 1
    assert len(w.kube.bindings) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        Conflict(409, "pod web-0 is being deleted"),
        NotFound(404, "pods web-0 not found"),
        KubeUnavailable(0, "timed out"),
    ],
)
def test_binding_refused_leaves_no_allocation(refusal: Exception) -> None:
    w = world()
    w.kube.add(pod("solo"))
    w.kube.refuse = refusal  # type: ignore[assignment]
    error = bind(w, "solo", "dc1-a-n0")
    assert str(refusal) in error and "default/solo" in error
    assert records(w) == []
    assert w.store.usage("dc1-a").allocated == 0


def test_binding_failure_returns_a_reserved_ip_to_reserved() -> None:
    w = world()
    w.kube.add(pod("web-0", owner=STS, annotations=IMMUTABLE))
    assert bind(w, "web-0", "dc1-c-n0") == ""
    [rec] = records(w)
    w.store.reserve(rec.subnet, rec.ip, rec.owner, rec.pod_uid, 1.0)
    # the pod is recreated (same name, new UID); its Binding is refused
    w.kube.pods.clear()
    w.kube.add(pod("web-0", uid="uid-2", owner=STS, annotations=IMMUTABLE))
    w.kube.refuse = Conflict(409, "precondition failed")
    assert "precondition failed" in bind(w, "web-0", "dc1-c-n1", uid="uid-2")
    [after] = records(w)
    assert (after.ip, after.state, after.owner) == (rec.ip, IPState.RESERVED, rec.owner)
    # and the next attempt gets it back
    w.kube.refuse = None
    assert bind(w, "web-0", "dc1-c-n1", uid="uid-2") == ""
    assert [r.ip for r in records(w)] == [rec.ip]


@pytest.mark.parametrize("step", ["allocate", "binding"])
def test_faults_at_each_step_leave_nothing(step: str) -> None:
    w = world(faults=[step])
    w.kube.add(pod("solo"))
    assert "injected fault" in bind(w, "solo", "dc1-b-n0")
    assert records(w) == []
    assert w.kube.bindings == []


def test_statefulset_pod_recreated_gets_its_ip_back_without_the_controllers() -> None:
    w = world()
    w.kube.add(pod("web-0", owner=STS, annotations=IMMUTABLE))
    assert bind(w, "web-0", "dc1-b-n0") == ""
    [first] = records(w)
    # deleted and recreated: the old record still names the old UID (no controller ran)
    w.kube.pods.clear()
    new = w.kube.add(pod("web-0", uid="uid-new", owner=STS, annotations=IMMUTABLE))
    _, reply = w.post("filter", {"Pod": new, "NodeNames": NAMES})
    assert reply["NodeNames"] == ["dc1-b-n0", "dc1-b-n1"]
    assert reply["FailedNodes"]["dc1-a-n0"] == "subnet dc1-a: the pod's IP 10.0.2.10 belongs to subnet dc1-b"
    assert bind(w, "web-0", "dc1-b-n1", uid="uid-new") == ""
    [again] = records(w)
    assert (again.ip, again.pod_uid, again.node) == (first.ip, "uid-new", "dc1-b-n1")


def test_a_recreated_pod_is_not_bound_with_the_old_uid() -> None:
    w = world()
    w.kube.add(pod("solo", uid="uid-new"))
    error = bind(w, "solo", "dc1-a-n0", uid="uid-old")
    assert "now has UID uid-new, not uid-old" in error
    assert records(w) == []


def test_exhausted_subnet() -> None:
    w = world()
    for i in range(2):
        w.kube.add(pod(f"p{i}"))
        assert bind(w, f"p{i}", "dc1-c-n0") == ""
    w.kube.add(pod("p2"))
    error = bind(w, "p2", "dc1-c-n0")
    assert "dc1-c" in error and "no free" in error.lower()
    assert len(records(w)) == 2
    w.view.refresh()
    _, reply = w.post("filter", {"Pod": pod("p2"), "NodeNames": ["dc1-c-n0", "dc1-a-n0"]})
    assert reply["NodeNames"] == ["dc1-a-n0"]
    assert reply["FailedNodes"]["dc1-c-n0"] == "subnet dc1-c: no free IP (2 of 2 in use)"


def test_pool_cap_and_namespace() -> None:
    w = world()
    notes = {"fip.io/pool": "shared"}
    for i in range(3):
        w.kube.add(pod(f"q{i}", annotations=notes))
        assert bind(w, f"q{i}", "dc1-b-n0") == ""
    w.kube.add(pod("q3", annotations=notes))
    assert "pool" in bind(w, "q3", "dc1-b-n0").lower()
    assert {r.pool for r in records(w)} == {"shared"}
    # a pod of the pool may not take an IP outside the pool's subnet
    w.kube.add(pod("q4", annotations=notes))
    assert "pool shared lives in another subnet" in bind(w, "q4", "dc1-a-n0")


def test_requested_reserved_ip() -> None:
    w = world()
    w.kube.add(pod("pinned", annotations={"fip.io/requested-ip": "10.0.1.150"}))
    assert bind(w, "pinned", "dc1-a-n1") == ""
    assert str(records(w)[0].ip) == "10.0.1.150"
    w.kube.add(pod("thief", annotations={"fip.io/requested-ip": "10.0.1.150"}))
    assert "is held by default/Pod/pinned" in bind(w, "thief", "dc1-a-n1")
    w.kube.add(pod("plainip", annotations={"fip.io/requested-ip": "10.0.1.20"}))
    assert "not a reserved IP" in bind(w, "plainip", "dc1-a-n1")
    assert len(records(w)) == 1


def test_bind_to_a_node_outside_the_owners_subnet_is_refused() -> None:
    w = world()
    w.kube.add(pod("web-0", owner=STS, annotations=IMMUTABLE))
    assert bind(w, "web-0", "dc1-b-n0") == ""
    [rec] = records(w)
    w.store.reserve(rec.subnet, rec.ip, rec.owner, rec.pod_uid, 1.0)
    w.kube.pods.clear()
    w.kube.add(pod("web-0", uid="uid-2", owner=STS, annotations=IMMUTABLE))
    assert "belongs to subnet dc1-b" in bind(w, "web-0", "dc1-a-n0", uid="uid-2")
    assert "in no fip Subnet" in bind(w, "web-0", "lonely", uid="uid-2")
    assert [r.state for r in records(w)] == [IPState.RESERVED]


def test_bind_of_a_missing_pod() -> None:
    w = world()
    assert "does not exist" in bind(w, "ghost", "dc1-a-n0")
    assert records(w) == []


def test_concurrent_binds_of_one_deployment_never_exceed_its_replicas() -> None:
    from fip.core.owner import OwnerKey
    from fip.core.policy import ReleasePolicy
    from fip.store.protocol import AllocateRequest

    w = world()
    w.view.replicas = lambda ns, name: 2  # type: ignore[method-assign,assignment]
    notes = {**IMMUTABLE}
    rs = ("apps/v1", "ReplicaSet", "api-5d9c")
    labels = {"pod-template-hash": "5d9c"}
    owner = OwnerKey.of("default", "Deployment", "api")
    for name in ("api-5d9c-a", "api-5d9c-b"):
        w.kube.add(pod(name, owner=rs, annotations=notes, labels=labels))
    assert bind(w, "api-5d9c-a", "dc1-a-n0") == ""
    binder = w.app.extensions["fip"]["binder"]

    def other_replica(step: str) -> None:
        # between this bind's decision and its allocation, another extender binds a sibling
        if step == "allocate":
            binder.fault = None
            w.store.allocate(
                AllocateRequest(
                    "dc1-a", owner, "uid-sibling", "api-5d9c-z", "dc1-a-n1", ReleasePolicy.IMMUTABLE, 1000.0
                )
            )

    binder.fault = other_replica
    error = bind(w, "api-5d9c-b", "dc1-a-n0")
    assert "holds 3 IP(s) for 2 replica(s)" in error and "waiting" in error
    held = w.store.by_owner(owner)
    assert sorted(r.pod_uid for r in held) == ["uid-api-5d9c-a", "uid-sibling"]
    assert [b[1] for b in w.kube.bindings] == ["api-5d9c-a"]
