"""The audit (fipctl check's decisions) and the Kubernetes views it shares with the controllers."""

from __future__ import annotations

import ipaddress
from typing import Any

from fip.core.annotation import Allocation
from fip.core.audit import StoreView, audit
from fip.core.kubeview import EVERYTHING, owner_state, pod_view
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState, Usage
from fip.core.releaseplan import OwnerState
from fip.core.subnet import IPRange, Subnet

NOW = 10_000.0
SUB = Subnet(
    "dc1-a",
    ipaddress.ip_network("10.0.1.0/24"),
    ipaddress.ip_address("10.0.1.1"),
    ranges=(IPRange(ipaddress.ip_address("10.0.1.10"), ipaddress.ip_address("10.0.1.50")),),
)
WEB = OwnerKey.of("default", "StatefulSet", "web", 0).workload()


def ip(n: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(f"10.0.1.{n}")


def alloc_text(n: int, owner: OwnerKey, subnet: str = "dc1-a") -> str:
    return Allocation(ip(n), 24, ip(1), 0, subnet, owner).encode()


def raw_pod(
    name: str, uid: str, n: int | None = None, *, phase: str = "Running", sts: str = "web", extra: Any = None
) -> dict[str, Any]:
    ordinal = name.rsplit("-", 1)[1]
    owner = OwnerKey.of("default", "StatefulSet", sts, ordinal)
    ann: dict[str, Any] = {} if n is None else {"fip.io/allocation": alloc_text(n, owner)}
    ann.update(extra or {})
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": uid,
            "annotations": ann,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts, "controller": True}
            ],
        },
        "spec": {"nodeName": "node-1"},
        "status": {"phase": phase},
    }


def record(
    n: int, inst: int, uid: str, *, policy: ReleasePolicy = ReleasePolicy.POD, age: float = 1000
) -> AllocationRecord:
    return AllocationRecord(
        ip=ip(n),
        subnet="dc1-a",
        owner=OwnerKey.of("default", "StatefulSet", "web", inst),
        state=IPState.BOUND if uid else IPState.RESERVED,
        policy=policy,
        pod_name=f"web-{inst}",
        pod_uid=uid,
        created_at=NOW - age,
        updated_at=NOW - age,
    )


def view(records: list[AllocationRecord], usage: Usage | None = None) -> StoreView:
    res = sum(1 for r in records if r.state is IPState.RESERVED)
    u = usage or Usage("dc1-a", SUB.total(), len(records) - res, res)
    return StoreView([SUB], {"dc1-a": records}, {"dc1-a": u})


def no_rs(ns: str, rs: str) -> str | None:
    return None


WEB_STATE = OwnerState(WEB, exists=True, replicas=3, policy=ReleasePolicy.IMMUTABLE)


def problems(findings: list[Any]) -> list[tuple[str, str]]:
    return [(f.problem.value, f.ip) for f in findings]


def test_consistent_state_is_clean() -> None:
    pods = [pod_view(raw_pod("web-0", "u0", 10), no_rs), pod_view(raw_pod("web-1", "u1", 11), no_rs)]
    recs = [record(10, 0, "u0"), record(11, 1, "u1"), record(12, 2, "", policy=ReleasePolicy.IMMUTABLE)]
    assert audit(view(recs), pods, {WEB: WEB_STATE}, NOW) == []


def test_every_problem_class() -> None:
    pods = [
        pod_view(raw_pod("web-0", "u0", 10), no_rs),  # record names another uid
        pod_view(raw_pod("web-1", "u1", 11), no_rs),  # no record: missing
        pod_view(raw_pod("web-2", "u2", 11), no_rs),  # same IP as web-1: duplicate
        pod_view(raw_pod("web-3", "u3", 60), no_rs),  # outside the ranges
        pod_view(raw_pod("web-4", "u4", extra={"fip.io/release-policy": "sometimes"}), no_rs),
    ]
    recs = [
        record(10, 0, "old"),
        record(20, 5, "gone-uid"),  # pod gone long ago, policy pod: leaked
        record(21, 2, "gone2"),  # immutable (template) and wanted: should be reserved: stale
        record(22, 7, "fresh", age=5),  # within grace: not reported
    ]
    drift = Usage("dc1-a", SUB.total(), 9, 0)
    got = problems(audit(view(recs, drift), pods, {WEB: WEB_STATE}, NOW))
    assert ("uid-mismatch", "10.0.1.10") in got
    assert ("missing", "10.0.1.11") in got
    assert got.count(("duplicate", "10.0.1.11")) == 2
    assert ("outside-subnet", "10.0.1.60") in got
    assert ("invalid-annotation", "") in got
    assert ("leaked", "10.0.1.20") in got
    assert ("stale", "10.0.1.21") in got
    assert ("usage-drift", "") in got
    assert not any(i == "10.0.1.22" for _, i in got)


def test_owner_mismatch_and_finished_pods() -> None:
    other = raw_pod("db-0", "u9", 10, sts="db")
    finished = raw_pod("web-1", "u1", 11, phase="Succeeded")
    recs = [record(10, 0, "u9"), record(11, 1, "u1")]
    got = problems(
        audit(view(recs), [pod_view(other, no_rs), pod_view(finished, no_rs)], {WEB: WEB_STATE}, NOW)
    )
    assert ("owner-mismatch", "10.0.1.10") in got
    # the finished pod's IP is not "missing"; the template says immutable, so its record
    # should have been reserved for web-1 (stale); under policy pod it is a leak
    assert ("stale", "10.0.1.11") in got and ("missing", "10.0.1.11") not in got
    pod_state = OwnerState(WEB, exists=True, replicas=3, policy=ReleasePolicy.POD)
    got = problems(audit(view(recs), [pod_view(finished, no_rs)], {WEB: pod_state}, NOW))
    assert ("leaked", "10.0.1.11") in got


def test_deleted_workload_immutable_records_leak() -> None:
    recs = [record(12, 2, "", policy=ReleasePolicy.IMMUTABLE)]
    assert problems(audit(view(recs), [], {}, NOW)) == [("leaked", "10.0.1.12")]


def test_owner_state_from_objects() -> None:
    sts = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "ordinals": {"start": 3},
            "template": {"metadata": {"annotations": {"fip.io/release-policy": "immutable"}}},
        },
    }
    state, errs = owner_state("StatefulSet", sts, WEB)
    assert (state.replicas, state.start, state.policy, errs) == (2, 3, ReleasePolicy.IMMUTABLE, [])
    tapp = {"spec": {"replicas": 3, "statuses": {"1": "Killed", "2": "Running"}}}
    key = OwnerKey.of("default", "TApp", "t", 0).workload()
    state, _ = owner_state("TApp", tapp, key)
    assert state.killed == frozenset({"1"}) and state.replicas == 3
    state, _ = owner_state("Deployment", {"spec": {}}, key)
    assert state.replicas == 1  # the API's default
    bad = {
        "spec": {"replicas": "many", "template": {"metadata": {"annotations": {"fip.io/release-policy": 3}}}}
    }
    state, errs = owner_state("Deployment", bad, key)
    assert state.replicas == EVERYTHING and state.policy is None and len(errs) == 2
    assert owner_state("Deployment", None, key)[0].exists is False
    assert owner_state("Deployment", {"metadata": {"deletionTimestamp": "x"}}, key)[0].exists is False


def test_pod_view_bad_annotation_is_a_problem_not_an_ip() -> None:
    p = pod_view(raw_pod("web-0", "u0", extra={"fip.io/allocation": '{"ip":"010.0.1.1"}'}), no_rs)
    assert p.allocation is None and p.problems and "fip.io/allocation" in p.problems[0]
    assert p.owner == OwnerKey.of("default", "StatefulSet", "web", 0)
