"""The release planner: every policy x owner kind x pod state, and properties over random states
(never frees a live pod's IP, a recreated same-name pod keeps its IP, never keeps, fixpoint)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fip.core.owner import OwnerKey, OwnerKind
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.core.releaseplan import Action, LivePod, OwnerState, ReleasePlan, Step, plan

NOW = 1000.0
P, IM, NV = ReleasePolicy.POD, ReleasePolicy.IMMUTABLE, ReleasePolicy.NEVER


def rec(
    owner: OwnerKey,
    n: int,
    uid: str = "",
    policy: ReleasePolicy = P,
    *,
    state: IPState | None = None,
    updated: float = 10.0,
) -> AllocationRecord:
    st_ = state if state is not None else (IPState.BOUND if uid else IPState.RESERVED)
    return AllocationRecord(
        ip=ipaddress.ip_address(f"10.0.1.{n}"),
        subnet="dc1-a",
        owner=owner,
        state=st_,
        policy=policy,
        pod_name=f"{owner.name}-{owner.instance}" if owner.instance else owner.name,
        pod_uid=uid,
        created_at=updated,
        updated_at=updated,
    )


def sts(i: int, name: str = "web") -> OwnerKey:
    return OwnerKey.of("default", "StatefulSet", name, i)


def tapp(i: int) -> OwnerKey:
    return OwnerKey.of("default", "TApp", "t", i)


DEP = OwnerKey.of("default", "Deployment", "api")
STS = sts(0).workload()
TAPP = tapp(0).workload()


def pods(*items: tuple[str, str] | tuple[str, str, str]) -> dict[str, LivePod]:
    out = {}
    for it in items:
        uid, name = it[0], it[1]
        phase = it[2] if len(it) == 3 else "Running"
        out[uid] = LivePod(uid, name, phase)
    return out


def actions(p: ReleasePlan) -> list[Action]:
    return [s.action for s in p.steps]


# --- pod policy ----------------------------------------------------------------------------


def test_pod_policy_keeps_live_and_frees_deleted_and_finished() -> None:
    owner = OwnerState(DEP, exists=True, replicas=3, policy=P)
    records = [rec(DEP, 10, "a"), rec(DEP, 11, "b"), rec(DEP, 12, "c")]
    live = pods(("a", "api-x"), ("c", "api-z", "Succeeded"))
    p = plan(owner, records, live, NOW, gone={"b"})
    assert actions(p) == [Action.KEEP, Action.RELEASE, Action.RELEASE]
    assert [s.expected_uid for s in p.changes] == ["b", "c"]
    assert "deleted" in p.steps[1].reason and "Succeeded" in p.steps[2].reason


def test_unseen_pod_waits_for_grace_then_frees() -> None:
    owner = OwnerState(DEP, exists=True, replicas=1, policy=P)
    r = rec(DEP, 10, "new", updated=NOW - 5)
    p = plan(owner, [r], {}, NOW, grace=60)
    assert actions(p) == [Action.WAIT] and p.retry_at == NOW + 55
    assert actions(plan(owner, [r], {}, NOW + 55, grace=60)) == [Action.RELEASE]


def test_failed_pod_frees_under_pod_policy_even_while_owner_wants_it() -> None:
    owner = OwnerState(STS, exists=True, replicas=3, policy=P)
    p = plan(owner, [rec(sts(0), 10, "u0")], pods(("u0", "web-0", "Failed")), NOW)
    assert actions(p) == [Action.RELEASE]


def test_terminating_pod_keeps_its_ip() -> None:
    owner = OwnerState(STS, exists=False)  # owner deleted, pod still shutting down
    p = plan(owner, [rec(sts(5), 10, "u5", IM)], pods(("u5", "web-5")), NOW)
    assert actions(p) == [Action.KEEP] and p.steps[0].live


# --- StatefulSet -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "start", "instance", "expected"),
    [
        (3, 0, 0, Action.RESERVE),
        (3, 0, 2, Action.RESERVE),
        (3, 0, 3, Action.RELEASE),
        (0, 0, 0, Action.RELEASE),
        (2, 5, 4, Action.RELEASE),
        (2, 5, 5, Action.RESERVE),
        (2, 5, 6, Action.RESERVE),
        (2, 5, 7, Action.RELEASE),
    ],
)
def test_statefulset_immutable_by_ordinal(replicas: int, start: int, instance: int, expected: Action) -> None:
    owner = OwnerState(STS, exists=True, replicas=replicas, start=start, policy=IM)
    p = plan(owner, [rec(sts(instance), 10, "old")], {}, NOW, gone={"old"})
    assert actions(p) == [expected]
    if expected is Action.RELEASE:
        assert "outside (scaled down)" in p.steps[0].reason


def test_statefulset_pod_recreated_with_new_uid_keeps_ip_reserved() -> None:
    owner = OwnerState(STS, exists=True, replicas=1, policy=IM)
    # web-0 is back with uid "new"; the record still names the old uid
    p = plan(owner, [rec(sts(0), 10, "old", IM)], pods(("new", "web-0")), NOW, gone={"old"})
    assert actions(p) == [Action.RESERVE] and p.steps[0].expected_uid == "old"


def test_reserved_within_replicas_is_kept_and_freed_on_scale_down_or_deletion() -> None:
    r = rec(sts(1), 11, "", IM)
    assert actions(plan(OwnerState(STS, True, 2, policy=IM), [r], {}, NOW)) == [Action.KEEP]
    assert actions(plan(OwnerState(STS, True, 1, policy=IM), [r], {}, NOW)) == [Action.RELEASE]
    gone = plan(OwnerState(STS, False), [r], {}, NOW)
    assert actions(gone) == [Action.RELEASE] and "deleted" in gone.steps[0].reason
    assert gone.steps[0].expected_uid == ""


def test_second_ip_of_an_instance_is_surplus() -> None:
    owner = OwnerState(STS, exists=True, replicas=1, policy=IM)
    records = [rec(sts(0), 10, "old", IM), rec(sts(0), 11, "new", IM)]
    p = plan(owner, records, pods(("new", "web-0")), NOW, gone={"old"})
    assert actions(p) == [Action.RELEASE, Action.KEEP]
    assert "surplus" in p.steps[0].reason


# --- TApp -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "killed", "instance", "expected"),
    [
        (3, frozenset(), 1, Action.RESERVE),
        (3, frozenset({"1"}), 1, Action.RELEASE),
        (3, frozenset({"2"}), 1, Action.RESERVE),
        (2, frozenset(), 2, Action.RELEASE),
    ],
)
def test_tapp_immutable_by_id_and_killed(
    replicas: int, killed: frozenset[str], instance: int, expected: Action
) -> None:
    owner = OwnerState(TAPP, exists=True, replicas=replicas, killed=killed, policy=IM)
    assert actions(plan(owner, [rec(tapp(instance), 10, "u", IM)], {}, NOW, gone={"u"})) == [expected]


# --- Deployment -------------------------------------------------------------------------------


def test_deployment_immutable_keeps_up_to_replicas_and_frees_surplus_oldest_first() -> None:
    owner = OwnerState(DEP, exists=True, replicas=2, policy=IM)
    records = [
        rec(DEP, 10, "a", IM),  # live
        rec(DEP, 11, "", IM, updated=5.0),  # reserved, oldest
        rec(DEP, 12, "", IM, updated=8.0),  # reserved
        rec(DEP, 13, "d", IM, updated=9.0),  # pod just deleted
    ]
    p = plan(owner, records, pods(("a", "api-1")), NOW, gone={"d"})
    assert actions(p) == [Action.KEEP, Action.RELEASE, Action.RELEASE, Action.RESERVE]


def test_deployment_rolling_update_surge_is_not_freed_while_live() -> None:
    owner = OwnerState(DEP, exists=True, replicas=2, policy=IM)
    records = [rec(DEP, 10 + i, f"u{i}", IM) for i in range(3)]
    live = pods(*((f"u{i}", f"api-{i}") for i in range(3)))
    assert actions(plan(owner, records, live, NOW)) == [Action.KEEP] * 3


def test_deployment_scaled_to_zero_or_deleted_frees_reserved() -> None:
    records = [rec(DEP, 10, "", IM), rec(DEP, 11, "", IM)]
    assert actions(plan(OwnerState(DEP, True, 0, policy=IM), records, {}, NOW)) == [Action.RELEASE] * 2
    assert actions(plan(OwnerState(DEP, False), records, {}, NOW)) == [Action.RELEASE] * 2


def test_waiting_record_counts_against_capacity_but_is_not_freed() -> None:
    owner = OwnerState(DEP, exists=True, replicas=1, policy=IM)
    records = [rec(DEP, 10, "", IM), rec(DEP, 11, "fresh", IM, updated=NOW - 1)]
    p = plan(owner, records, {}, NOW)
    assert actions(p) == [Action.RELEASE, Action.WAIT]


# --- never, bare pods, policy source, foreign records ---------------------------------------


def test_never_keeps_through_deletion_and_scale_down() -> None:
    records = [rec(sts(7), 10, "x", NV), rec(sts(8), 11, "", NV)]
    p = plan(OwnerState(STS, False), records, {}, NOW, gone={"x"})
    assert actions(p) == [Action.RESERVE, Action.KEEP]


def test_bare_pod_owner() -> None:
    key = OwnerKey.of("default", "Pod", "solo")
    r = rec(key, 10, "u", IM)
    assert actions(plan(OwnerState(key, False), [r], {}, NOW, gone={"u"})) == [Action.RELEASE]
    assert actions(plan(OwnerState(key, True, policy=IM), [r], pods(("u2", "solo")), NOW, gone={"u"})) == [
        Action.RESERVE
    ]


def test_current_template_policy_wins_while_owner_exists() -> None:
    r = rec(sts(0), 10, "", NV)
    assert actions(plan(OwnerState(STS, True, 1, policy=P), [r], {}, NOW)) == [Action.RELEASE]
    assert actions(plan(OwnerState(STS, True, 1, policy=None), [r], {}, NOW)) == [Action.KEEP]
    assert actions(plan(OwnerState(STS, False, policy=P), [r], {}, NOW)) == [Action.KEEP]


def test_records_of_other_owners_are_left_alone() -> None:
    p = plan(OwnerState(STS, False), [rec(DEP, 10, "", IM)], {}, NOW)
    assert actions(p) == [Action.KEEP] and "belongs to" in p.steps[0].reason


# --- properties -------------------------------------------------------------------------------

KINDS = [OwnerKind.STATEFULSET, OwnerKind.TAPP, OwnerKind.DEPLOYMENT, OwnerKind.POD]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[OwnerState, list[AllocationRecord], dict[str, LivePod], set[str]]:
    kind = draw(st.sampled_from(KINDS))
    name = "w"
    key = (
        OwnerKey.of("ns", kind, name, 0).workload()
        if kind in (OwnerKind.STATEFULSET, OwnerKind.TAPP)
        else (OwnerKey.of("ns", kind, name))
    )
    owner = OwnerState(
        key,
        exists=draw(st.booleans()),
        replicas=draw(st.integers(0, 5)),
        start=draw(st.integers(0, 2)) if kind is OwnerKind.STATEFULSET else 0,
        killed=frozenset(draw(st.lists(st.sampled_from("0123456"), max_size=3)))
        if kind is OwnerKind.TAPP
        else frozenset(),
        policy=draw(st.sampled_from([None, P, IM, NV])),
    )
    n = draw(st.integers(0, 8))
    records, live, gone = [], {}, set()
    for i in range(n):
        inst = draw(st.integers(0, 6)) if key.kind in (OwnerKind.STATEFULSET, OwnerKind.TAPP) else None
        okey = OwnerKey.of("ns", kind, name, inst)
        uid = draw(st.sampled_from(["", f"u{i}"]))
        state = IPState.RESERVED if not uid else draw(st.sampled_from([IPState.ALLOCATED, IPState.BOUND]))
        r = AllocationRecord(
            ip=ipaddress.ip_address(f"10.0.0.{i + 2}"),
            subnet="s",
            owner=okey,
            state=state,
            policy=draw(st.sampled_from([P, IM, NV])),
            pod_name=f"{name}-{inst}",
            pod_uid=uid,
            created_at=0.0,
            updated_at=draw(st.sampled_from([0.0, NOW - 1])),
        )
        records.append(r)
        if uid:
            fate = draw(st.sampled_from(["live", "finished", "gone", "unseen", "terminating"]))
            if fate in ("live", "terminating"):
                live[uid] = LivePod(uid, r.pod_name, draw(st.sampled_from(["Running", "Pending", ""])))
            elif fate == "finished":
                live[uid] = LivePod(uid, r.pod_name, draw(st.sampled_from(["Succeeded", "Failed"])))
            elif fate == "gone":
                gone.add(uid)
        if draw(st.booleans()):  # a recreated same-name pod with a new UID
            live[f"new{i}"] = LivePod(f"new{i}", r.pod_name, "Running")
    return owner, records, live, gone


def _is_live(r: AllocationRecord, live: dict[str, LivePod]) -> bool:
    return bool(r.pod_uid) and r.pod_uid in live and not live[r.pod_uid].finished


def _apply(records: list[AllocationRecord], steps: list[Step]) -> list[AllocationRecord]:
    by_ip = {r.ip: r for r in records}
    for s in steps:
        if s.action is Action.RELEASE:
            del by_ip[s.record.ip]
        elif s.action is Action.RESERVE:
            by_ip[s.record.ip] = replace(s.record, state=IPState.RESERVED, pod_uid="", updated_at=NOW)
    return [by_ip[r.ip] for r in records if r.ip in by_ip]


@settings(max_examples=3000, deadline=None)
@given(scenarios())
def test_properties(case: tuple[OwnerState, list[AllocationRecord], dict[str, LivePod], set[str]]) -> None:
    owner, records, live, gone = case
    p = plan(owner, records, live, NOW, gone=gone, grace=60.0)
    assert [s.record for s in p.steps] == records
    for s in p.steps:
        r = s.record
        # never frees (or reserves) an IP bound to a live pod
        if _is_live(r, live):
            assert s.action is Action.KEEP
        # an unseen pod within grace is never decided
        if r.pod_uid and r.pod_uid not in live and r.pod_uid not in gone and r.updated_at > NOW - 60:
            assert s.action is Action.WAIT
        # each change names the UID the record carries
        if s.action in (Action.RELEASE, Action.RESERVE):
            assert s.expected_uid == r.pod_uid
        policy = owner.policy if owner.exists and owner.policy is not None else r.policy
        # never is never freed; pod policy never reserves
        if policy is NV:
            assert s.action is not Action.RELEASE
        if policy is P:
            assert s.action is not Action.RESERVE
        # a deleted owner keeps nothing under immutable once the pod is gone
        if policy is IM and not owner.exists and not _is_live(r, live) and s.action is not Action.WAIT:
            assert s.action is Action.RELEASE
    # applying the plan reaches a fixpoint: planning again changes nothing
    after = _apply(records, p.changes)
    again = plan(owner, after, live, NOW, gone=gone, grace=60.0)
    assert again.changes == [], again.changes
    # capacity: after applying, non-live immutable IPs fit what the owner wants
    if owner.exists and owner.key.kind is OwnerKind.DEPLOYMENT:
        held = [s for s in again.steps if s.action is not Action.RELEASE]
        spare_im = [
            s
            for s in held
            if not s.live and s.action is not Action.WAIT and (owner.policy or s.record.policy) is IM
        ]
        assert not spare_im or len(held) <= max(owner.replicas, 0)


@settings(max_examples=1000, deadline=None)
@given(
    st.integers(0, 5),
    st.integers(0, 6),
    st.sampled_from([IM, NV]),
    st.sampled_from([OwnerKind.STATEFULSET, OwnerKind.TAPP]),
)
def test_recreated_pod_keeps_ip_within_replicas(
    replicas: int, inst: int, policy: ReleasePolicy, kind: OwnerKind
) -> None:
    key = OwnerKey.of("ns", kind, "w", inst)
    owner = OwnerState(key.workload(), exists=True, replicas=replicas, policy=policy)
    r = rec(key, 10, "old", policy)
    p = plan(owner, [r], {"new": LivePod("new", f"w-{inst}")}, NOW, gone={"old"})
    if inst < replicas or policy is NV:
        assert actions(p) == [Action.RESERVE]
    else:
        assert actions(p) == [Action.RELEASE]
