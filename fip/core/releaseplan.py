"""The release plan: which IPs of one owner to keep, which to reserve, which to free.

One pure function, `plan`, decides for every allocation record of an owner (a workload key, no
instance) what the controllers do with it. The controllers only read the current state and apply
the plan's steps through the store, so every path (scale-down, deletion, a missed event, a
restart) goes through the same decision:

    the record's pod is live (known, not Succeeded/Failed)   keep      never touched, any policy
    its pod is unseen but may just not be cached yet         wait      until `updated_at + grace`
    its pod is gone or finished, and
        policy pod                                           release
        policy never                                         reserve   kept for the owner
        policy immutable, instance still wanted              reserve
        policy immutable, instance removed or owner gone     release

"Instance wanted": a StatefulSet ordinal in `[start, start + replicas)`; a TApp id below
replicas and not `Killed` in `spec.statuses`; a Deployment while its IP count stays within
replicas (the surplus not bound to live pods is released, the least recently used first); a bare
pod while a pod of that name exists. An owner key holds at most one IP per instance: a second,
not-live record of an instance (its pod was recreated and got another IP) is surplus too.

Why it is safe:
- a record whose pod UID is a live pod is never released or reserved, whatever the owner state
  says (a late event, a lagging owner cache or a wrong replicas count cannot free it);
- every step names the pod UID it expects (the record's), so the store refuses it if the IP
  changed hands after the caller read the records;
- "pod gone" needs positive evidence: the pod was seen finished, its deletion was seen
  (`gone`), or its UID stayed unseen past `grace` seconds since the record last changed (a pod
  the extender just bound may not be in the caller's cache yet).

A StatefulSet or TApp pod recreated with the same name and a new UID therefore keeps its IP under
`immutable` and `never`: the old UID's record is reserved for the instance, and the extender
hands it to the new pod.
"""

from __future__ import annotations

import enum
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass

from fip.core.owner import OwnerKey, OwnerKind
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState

FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
DEFAULT_GRACE = 60.0


class Action(enum.StrEnum):
    KEEP = "keep"
    WAIT = "wait"
    RESERVE = "reserve"
    RELEASE = "release"


@dataclass(frozen=True, slots=True)
class LivePod:
    """A pod as the caller's cache shows it (a pod being deleted is still live: its IP is in use)."""

    uid: str
    name: str
    phase: str = ""

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED_PHASES


@dataclass(frozen=True, slots=True)
class OwnerState:
    """What Kubernetes shows of the workload `key` (no instance) right now.

    `replicas` is spec.replicas (a Deployment's, StatefulSet's or TApp's); `start` is a
    StatefulSet's spec.ordinals.start; `killed` the TApp ids marked Killed in spec.statuses.
    For a bare-pod owner, `exists` says whether a pod of that name exists. `policy` is the policy
    the current pod template asks for; None when it is unknown (owner gone, or its annotation
    did not parse), and then each record's own policy applies.
    """

    key: OwnerKey
    exists: bool
    replicas: int = 0
    start: int = 0
    killed: frozenset[str] = frozenset()
    policy: ReleasePolicy | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """What to do with one record. `expected_uid` is the UID the store must still see
    ("" for a reserved record); `reason` is written for the operator's log."""

    record: AllocationRecord
    action: Action
    reason: str
    retry_at: float | None = None
    live: bool = False  # bound to a live pod (or another owner's): never freed

    @property
    def expected_uid(self) -> str:
        return self.record.pod_uid


@dataclass(frozen=True, slots=True)
class ReleasePlan:
    steps: tuple[Step, ...]

    def of(self, action: Action) -> list[Step]:
        return [s for s in self.steps if s.action is action]

    @property
    def changes(self) -> list[Step]:
        """The steps that change the store (reserve and release)."""
        return [s for s in self.steps if s.action in (Action.RESERVE, Action.RELEASE)]

    @property
    def retry_at(self) -> float | None:
        """When a waiting record can next be decided (None: nothing waits)."""
        times = [s.retry_at for s in self.steps if s.retry_at is not None]
        return min(times) if times else None


def plan(
    owner: OwnerState,
    records: Sequence[AllocationRecord],
    pods: Mapping[str, LivePod],
    now: float,
    *,
    gone: Container[str] = frozenset(),
    grace: float = DEFAULT_GRACE,
) -> ReleasePlan:
    """Decide every record of `owner` (records of other owners are kept untouched).

    `pods` maps pod UID -> pod for every pod the caller knows (at least the owner's and every
    UID in `records`); `gone` holds UIDs whose deletion the caller saw. Deterministic: the same
    input gives the same plan, steps in the order of `records`."""
    seen = _Seen(pods, now, gone, grace)
    first: list[Step] = [_decide(owner, r, seen) for r in records]
    return ReleasePlan(tuple(_trim_surplus(owner, first)))


def _policy(owner: OwnerState, rec: AllocationRecord) -> ReleasePolicy:
    if owner.exists and owner.policy is not None:
        return owner.policy
    return rec.policy


@dataclass(frozen=True, slots=True)
class _Seen:
    """The caller's view of pods, shared by every record's decision."""

    pods: Mapping[str, LivePod]
    now: float
    gone: Container[str]
    grace: float


def _decide(owner: OwnerState, rec: AllocationRecord, seen: _Seen) -> Step:
    if rec.owner.workload() != owner.key:
        return Step(rec, Action.KEEP, f"belongs to {rec.owner}, not {owner.key}", live=True)
    pod = seen.pods.get(rec.pod_uid) if rec.pod_uid else None
    if pod is not None and not pod.finished:
        return Step(rec, Action.KEEP, f"bound to live pod {pod.name} (uid {pod.uid})", live=True)
    if rec.state is IPState.RESERVED and not rec.pod_uid:
        why = "reserved, no pod"
    elif pod is not None:
        why = f"pod {pod.name} {pod.phase}"
    elif rec.pod_uid in seen.gone:
        why = f"pod {rec.pod_name or '?'} (uid {rec.pod_uid}) deleted"
    else:
        since = max(rec.updated_at, rec.created_at)
        if seen.now < since + seen.grace:
            return Step(rec, Action.WAIT, f"pod uid {rec.pod_uid} not seen yet", since + seen.grace)
        why = f"pod uid {rec.pod_uid} unseen for {seen.now - since:.0f}s"
    return _by_policy(owner, rec, why)


def _by_policy(owner: OwnerState, rec: AllocationRecord, why: str) -> Step:
    """The step for a record whose pod is gone (`why` says how we know)."""
    policy = _policy(owner, rec)
    if policy is ReleasePolicy.POD:
        return Step(rec, Action.RELEASE, f"{why}; policy pod")
    keep = Action.KEEP if rec.state is IPState.RESERVED else Action.RESERVE
    if policy is ReleasePolicy.NEVER:
        return Step(rec, keep, f"{why}; policy never keeps it")
    wanted, scope = _wanted(owner, rec)
    return Step(rec, keep if wanted else Action.RELEASE, f"{why}; policy immutable, {scope}")


def wanted(owner: OwnerState, instance: str | None) -> bool:
    """Whether an IP of `instance` (None for a Deployment's or bare pod's) is still wanted by
    the owner, ignoring Deployment capacity (which needs all records; `plan` applies it)."""
    return _wanted_instance(owner, instance)[0]


def _wanted(owner: OwnerState, rec: AllocationRecord) -> tuple[bool, str]:
    return _wanted_instance(owner, rec.owner.instance)


def _wanted_instance(owner: OwnerState, inst: str | None) -> tuple[bool, str]:
    """Whether the instance is still part of the owner, and why (for the log)."""
    if not owner.exists:
        return False, f"{owner.key.kind.value} {owner.key.name} deleted"
    kind = owner.key.kind
    if kind is OwnerKind.STATEFULSET and inst is not None:
        top = owner.start + max(owner.replicas, 0)
        inside = owner.start <= int(inst) < top
        where = "within" if inside else "outside (scaled down)"
        return inside, f"ordinal {inst} {where} [{owner.start}, {top})"
    if kind is OwnerKind.TAPP and inst is not None:
        if inst in owner.killed:
            return False, f"instance {inst} killed"
        inside = int(inst) < owner.replicas
        return inside, f"instance {inst} {'<' if inside else '>= (scaled down)'} replicas {owner.replicas}"
    if kind is OwnerKind.DEPLOYMENT:
        return True, f"within replicas {owner.replicas}"
    return True, "pod of that name exists"


def _trim_surplus(owner: OwnerState, steps: list[Step]) -> list[Step]:
    """Release not-live records beyond the owner's capacity: `replicas` IPs for a Deployment,
    one per instance (or bare pod) otherwise. Live and waiting records count but are never
    chosen; `never` records are never chosen. The least recently used are freed first."""
    groups: dict[OwnerKey, list[int]] = {}
    for i, s in enumerate(steps):
        key = owner.key if owner.key.kind is OwnerKind.DEPLOYMENT else s.record.owner
        groups.setdefault(key, []).append(i)
    out = list(steps)
    cap = max(owner.replicas, 0) if owner.key.kind is OwnerKind.DEPLOYMENT else 1
    for idx in groups.values():
        held = [i for i in idx if out[i].action is not Action.RELEASE]
        spare = [
            i
            for i in held
            if out[i].action in (Action.RESERVE, Action.KEEP)
            and not out[i].live
            and _policy(owner, out[i].record) is ReleasePolicy.IMMUTABLE
        ]
        surplus = len(held) - cap
        if surplus <= 0 or not spare:
            continue
        spare.sort(key=lambda i: (out[i].record.updated_at, int(out[i].record.ip)))
        for i in spare[:surplus]:
            s = out[i]
            why = f"{s.reason}; surplus: {len(held)} IPs held, {cap} wanted"
            out[i] = Step(s.record, Action.RELEASE, why)
    return out
