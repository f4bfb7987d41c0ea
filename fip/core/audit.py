"""The audit behind `fipctl check`: every inconsistency between the store and Kubernetes.

    leaked              a record the controllers should have freed (its pod is gone past the
                        grace period and no policy keeps it), per the release planner
    stale               a record still naming a pod that is gone, which its policy keeps: it
                        should have been moved to `reserved`
    missing             a live pod's annotated IP has no record in the store
    duplicate           two live pods carry the same IP
    outside-subnet      an IP (annotated or recorded) lies in no defined subnet or outside its
                        subnet's allocatable ranges
    uid-mismatch        the record of a live pod's IP names another pod UID (or none)
    owner-mismatch      the record of a live pod's IP names another owner
    usage-drift         a subnet's counters disagree with its records
    invalid-annotation  a pod's fip annotations do not parse

Pure: the caller reads the store first, then Kubernetes (so a pod created in between shows as
"missing" at worst, never a live IP as "leaked"), and passes both in. Records younger than
`grace` seconds (since their last change) are not reported as leaked or stale.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fip.core.kubeview import PodView, bare_pod_state
from fip.core.owner import OwnerKey, OwnerKind
from fip.core.record import AllocationRecord, IPState, Usage
from fip.core.releaseplan import DEFAULT_GRACE, Action, OwnerState, plan
from fip.core.subnet import Subnet


class Problem(enum.StrEnum):
    LEAKED = "leaked"
    STALE = "stale"
    MISSING = "missing"
    DUPLICATE = "duplicate"
    OUTSIDE = "outside-subnet"
    UID_MISMATCH = "uid-mismatch"
    OWNER_MISMATCH = "owner-mismatch"
    USAGE_DRIFT = "usage-drift"
    INVALID = "invalid-annotation"


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    problem: Problem
    subnet: str
    ip: str
    message: str
    pod: str = ""  # namespace/name
    owner: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "problem": self.problem.value,
            "subnet": self.subnet,
            "ip": self.ip,
            "pod": self.pod,
            "owner": self.owner,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class StoreView:
    """What the store held when read: definitions, every subnet's records and counters."""

    subnets: Sequence[Subnet]
    records: Mapping[str, Sequence[AllocationRecord]]
    usage: Mapping[str, Usage]


def audit(
    store: StoreView,
    pods: Sequence[PodView],
    owners: Mapping[OwnerKey, OwnerState],
    now: float,
    grace: float = DEFAULT_GRACE,
) -> list[Finding]:
    """Every finding, sorted. `owners` holds the workloads Kubernetes shows (by workload key);
    a workload key missing from it is deleted."""
    out: list[Finding] = []
    defs = {s.name: s for s in store.subnets}
    out += _usage(store)
    out += _outside_records(store, defs)
    out += _pods(store, defs, pods)
    out += _leaks(store, pods, owners, now, grace)
    return sorted(set(out))


def _usage(store: StoreView) -> list[Finding]:
    out = []
    for name, usage in store.usage.items():
        recs = store.records.get(name, ())
        reserved = sum(1 for r in recs if r.state is IPState.RESERVED)
        allocated = len(recs) - reserved
        if (usage.allocated, usage.reserved) != (allocated, reserved):
            out.append(
                Finding(
                    Problem.USAGE_DRIFT,
                    name,
                    "",
                    f"counters say {usage.allocated} allocated / {usage.reserved} reserved, "
                    f"records say {allocated} / {reserved}",
                )
            )
    return out


def _outside_records(store: StoreView, defs: Mapping[str, Subnet]) -> list[Finding]:
    out = []
    for name, recs in store.records.items():
        sub = defs.get(name)
        for r in recs:
            if sub is None or not sub.requestable(r.ip):
                where = f"subnet {name} ({sub.cidr})" if sub else f"undefined subnet {name}"
                out.append(
                    Finding(
                        Problem.OUTSIDE, name, str(r.ip), f"record lies outside {where}", owner=str(r.owner)
                    )
                )
    return out


def _pods(store: StoreView, defs: Mapping[str, Subnet], pods: Sequence[PodView]) -> list[Finding]:
    out: list[Finding] = []
    index = {(n, r.ip): r for n, recs in store.records.items() for r in recs}
    holders: dict[str, list[PodView]] = {}
    for p in pods:
        ref = f"{p.namespace}/{p.name}"
        for msg in p.problems:
            out.append(Finding(Problem.INVALID, "", "", msg, ref, str(p.owner)))
        a = p.allocation
        if a is None or p.finished:
            continue
        holders.setdefault(str(a.ip), []).append(p)
        sub = defs.get(a.subnet)
        if sub is None or not sub.requestable(a.ip):
            where = f"subnet {a.subnet} ({sub.cidr})" if sub else f"undefined subnet {a.subnet}"
            out.append(Finding(Problem.OUTSIDE, a.subnet, str(a.ip), f"pod's IP lies outside {where}", ref))
            continue
        r = index.get((a.subnet, a.ip))
        if r is None:
            out.append(Finding(Problem.MISSING, a.subnet, str(a.ip), "live pod's IP has no record", ref))
        elif r.owner != p.owner or r.owner != a.owner:
            msg = f"record owner {r.owner}, pod owner {p.owner}, annotation owner {a.owner}"
            out.append(Finding(Problem.OWNER_MISMATCH, a.subnet, str(a.ip), msg, ref, str(r.owner)))
        elif r.pod_uid != p.uid:
            msg = f"record names pod uid {r.pod_uid or '(none, ' + r.state.value + ')'}, pod has {p.uid}"
            out.append(Finding(Problem.UID_MISMATCH, a.subnet, str(a.ip), msg, ref, str(r.owner)))
    for addr, ps in holders.items():
        if len(ps) > 1:
            names = ", ".join(sorted(f"{p.namespace}/{p.name}" for p in ps))
            for p in ps:
                ref = f"{p.namespace}/{p.name}"
                out.append(
                    Finding(
                        Problem.DUPLICATE,
                        p.allocation.subnet if p.allocation else "",
                        addr,
                        f"held by {names}",
                        ref,
                    )
                )
    return out


def _leaks(
    store: StoreView,
    pods: Sequence[PodView],
    owners: Mapping[OwnerKey, OwnerState],
    now: float,
    grace: float,
) -> list[Finding]:
    live = {p.uid: p.live() for p in pods}
    by_name = {(p.namespace, p.name): p for p in pods}
    groups: dict[OwnerKey, list[AllocationRecord]] = {}
    for recs in store.records.values():
        for r in recs:
            groups.setdefault(r.owner.workload(), []).append(r)
    out = []
    for key, recs in groups.items():
        if key.kind is OwnerKind.POD:
            state = bare_pod_state(key, by_name)
        else:
            state = owners.get(key, OwnerState(key, exists=False))
        for step in plan(state, recs, live, now, grace=grace).changes:
            r = step.record
            if now - max(r.updated_at, r.created_at) < grace:
                continue
            problem = Problem.LEAKED if step.action is Action.RELEASE else Problem.STALE
            ref = f"{r.owner.namespace}/{r.pod_name}" if r.pod_name else ""
            out.append(Finding(problem, r.subnet, str(r.ip), step.reason, ref, str(r.owner)))
    return out
