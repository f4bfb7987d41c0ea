"""Views of raw Kubernetes JSON that the release planner and the audit decide on.

The controllers and `fipctl check` both turn pods and workloads into `PodView` / `OwnerState`
here, so they cannot disagree about what a pod's owner, policy or IP is. Pure: objects are the
decoded API JSON dicts, read with `.get`.

Bad input never frees an IP: an unreadable `replicas` counts as "everything wanted" (no
scale-down release), an unparsable policy annotation falls back to each record's stored policy,
and a malformed `fip.io/allocation` annotation leaves the pod without a known IP. Each such
problem is kept as a message in `problems` for the caller to log and report as an event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from fip.core import allocfast, annotation
from fip.core.annotation import Allocation
from fip.core.errors import InvalidInput
from fip.core.names import check_label, check_subdomain
from fip.core.owner import OwnerKey, OwnerKind
from fip.core.podowner import resolve_owner
from fip.core.podrequest import GALAXY_POOL, POOL
from fip.core.policy import ReleasePolicy, policy_from_annotations
from fip.core.releaseplan import FINISHED_PHASES, LivePod, OwnerState

DeploymentOf = Callable[[str, str], "str | None"]
EVERYTHING = 2**31  # replicas when spec.replicas cannot be read: nothing counts as scaled down
KINDS = {"Deployment": OwnerKind.DEPLOYMENT, "StatefulSet": OwnerKind.STATEFULSET, "TApp": OwnerKind.TAPP}


@dataclass(frozen=True, slots=True)
class PodView:
    namespace: str
    name: str
    uid: str
    phase: str
    node: str
    deleting: bool
    owner: OwnerKey
    policy: ReleasePolicy | None
    allocation: Allocation | None
    problems: tuple[str, ...] = ()
    pool: str = ""

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED_PHASES

    def live(self) -> LivePod:
        return LivePod(self.uid, self.name, self.phase)


def _is_map(value: object) -> TypeGuard[Mapping[str, Any]]:
    """`isinstance(value, Mapping)`, with decoded JSON's dicts checked first (the ABC check costs
    more than the rest of a pod's view when 100,000 pods are read)."""
    return type(value) is dict or isinstance(value, Mapping)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if _is_map(meta) else {}


def _section(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if _is_map(value) else {}


def pod_view(
    pod: Mapping[str, Any], deployment_of: DeploymentOf, *, owner_from_annotation: bool = False
) -> PodView:
    """The pod as the planner and audit see it; InvalidInput only for a pod without a valid
    name, namespace or uid (the API server never sends one).

    `owner_from_annotation`: a pod with a valid allocation is keyed by the owner its allocation
    names (the one the extender resolved at bind, and the key of its record) instead of
    resolving its owner again: the controllers' cache does this for speed (it only uses the
    owner to know which owner to look at again). The audit resolves, to report mismatches."""
    meta = _meta(pod)
    uid = meta.get("uid")
    if not isinstance(uid, str) or not uid:
        raise InvalidInput("metadata.uid", uid, "is not a pod UID", "read pods from the API server")
    problems: list[str] = []
    annotations = meta.get("annotations")
    policy: ReleasePolicy | None
    try:
        policy = policy_from_annotations(annotations)
    except InvalidInput as err:
        policy = None
        problems.append(str(err))
    notes = annotations if _is_map(annotations) else None
    alloc = None
    if notes is not None and annotation.KEY in notes:
        try:
            alloc = allocfast.parse(notes[annotation.KEY])
        except InvalidInput as err:
            problems.append(str(err))
    if alloc is not None and owner_from_annotation and alloc.owner.namespace == meta.get("namespace"):
        owner = alloc.owner
    else:
        owner = resolve_owner(pod, deployment_of)
    pool = ""
    if notes is not None:
        key = POOL if POOL in notes else GALAXY_POOL
        if notes.get(key) is not None:
            try:
                pool = check_subdomain(f"annotation {key}", notes.get(key))
            except InvalidInput as err:
                problems.append(str(err))
    status, spec = _section(pod, "status"), _section(pod, "spec")
    phase = status.get("phase")
    node = spec.get("nodeName")
    return PodView(
        namespace=owner.namespace,
        name=str(meta.get("name")),
        uid=uid,
        phase=phase if isinstance(phase, str) else "",
        node=node if isinstance(node, str) else "",
        deleting=bool(meta.get("deletionTimestamp")),
        owner=owner,
        policy=policy,
        allocation=alloc,
        problems=tuple(problems),
        pool=pool,
    )


def _replicas(spec: Mapping[str, Any], default: int, problems: list[str]) -> int:
    value = spec.get("replicas", default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(f"spec.replicas: {value!r} is not a replica count; nothing is treated as scaled down")
        return EVERYTHING
    return value


def owner_state(kind: str, obj: Mapping[str, Any] | None, key: OwnerKey) -> tuple[OwnerState, list[str]]:
    """The `OwnerState` of workload `key` from its object (None: not found, i.e. deleted),
    plus problems found on the way. `kind` is the object's kind (Deployment, StatefulSet, TApp)."""
    problems: list[str] = []
    if obj is None:
        return OwnerState(key, exists=False), problems
    if _meta(obj).get("deletionTimestamp"):
        return OwnerState(key, exists=False), problems
    spec = _section(obj, "spec")
    template_meta = _meta(_section(spec, "template"))
    policy: ReleasePolicy | None
    try:
        policy = policy_from_annotations(template_meta.get("annotations"))
    except InvalidInput as err:
        policy = None
        problems.append(f"spec.template.{err}")
    start, killed = 0, frozenset[str]()
    if kind == "TApp":
        replicas = _replicas(spec, 0, problems)
        statuses = spec.get("statuses")
        if isinstance(statuses, Mapping):
            killed = frozenset(str(i) for i, s in statuses.items() if s == "Killed")
    else:
        replicas = _replicas(spec, 1, problems)
    if kind == "StatefulSet":
        raw = _section(spec, "ordinals").get("start", 0)
        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            start = raw
        else:
            problems.append(f"spec.ordinals.start: {raw!r} is not an ordinal; using 0")
    return OwnerState(key, True, replicas, start, killed, policy), problems


def bare_pod_state(key: OwnerKey, pods_by_name: Mapping[tuple[str, str], PodView]) -> OwnerState:
    """A bare pod's owner exists while a pod of that name exists (its policy from that pod)."""
    pod = pods_by_name.get((key.namespace, key.name))
    if pod is None:
        return OwnerState(key, exists=False)
    return OwnerState(key, exists=True, replicas=1, policy=pod.policy)


def deployment_index(replicasets: Iterable[Mapping[str, Any]]) -> DeploymentOf:
    """`deployment_of` over a list of ReplicaSets: the controlling Deployment's name, "" for a
    known ReplicaSet without one, None for an unknown ReplicaSet."""
    index: dict[tuple[str, str], str] = {}
    for rs in replicasets:
        meta = _meta(rs)
        refs = meta.get("ownerReferences")
        dep = ""
        if isinstance(refs, list):
            for ref in refs:
                if (
                    isinstance(ref, Mapping)
                    and ref.get("controller") is True
                    and ref.get("kind") == "Deployment"
                ):
                    name = ref.get("name")
                    dep = name if isinstance(name, str) else ""
        index[(str(meta.get("namespace")), str(meta.get("name")))] = dep
    return lambda ns, name: index.get((ns, name))


def workload_key(kind: str, obj: Mapping[str, Any]) -> OwnerKey | None:
    """The owner key of a Deployment / StatefulSet / TApp object (None when its name is unusable)."""
    meta = _meta(obj)
    try:
        ns = check_label("metadata.namespace", meta.get("namespace"))
        name = check_subdomain("metadata.name", meta.get("name"))
    except InvalidInput:
        return None
    return OwnerKey(ns, KINDS[kind], name)


def owner_states(
    workloads: Mapping[str, Iterable[Mapping[str, Any]]],
) -> tuple[dict[OwnerKey, OwnerState], list[str]]:
    """Owner states of every listed workload, keyed by workload key (`workloads` maps a kind —
    Deployment, StatefulSet, TApp — to its objects), plus problems as log lines."""
    out: dict[OwnerKey, OwnerState] = {}
    problems: list[str] = []
    for kind, objs in workloads.items():
        for obj in objs:
            key = workload_key(kind, obj)
            if key is None:
                continue
            state, errs = owner_state(kind, obj, key)
            out[key] = state
            problems += [f"{kind} {key.namespace}/{key.name}: {e}" for e in errs]
    return out, problems


def pod_views(
    pods: Iterable[Mapping[str, Any]], deployment_of: DeploymentOf
) -> tuple[list[PodView], list[str]]:
    """Views of every pod that can be read, plus a problem line for each that cannot."""
    views: list[PodView] = []
    problems: list[str] = []
    for pod in pods:
        try:
            views.append(pod_view(pod, deployment_of))
        except InvalidInput as err:
            meta = _meta(pod)
            problems.append(f"pod {meta.get('namespace')}/{meta.get('name')}: {err}")
    return views, problems
