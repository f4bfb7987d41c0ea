"""The in-tree filters the lab scheduler runs before any extender, with kube-scheduler's reasons.

- NodeUnschedulable: `spec.unschedulable` -> "node(s) were unschedulable" (unresolvable).
- TaintToleration: NoSchedule/NoExecute taints the pod does not tolerate; a node whose Ready
  condition is not True counts as tainted `node.kubernetes.io/not-ready:NoSchedule` (the node
  lifecycle controller's taint) -> "node(s) had untolerated taint {key: value}" (unresolvable).
- NodeAffinity: nodeSelector and required node affinity -> "node(s) didn't match Pod's node
  affinity/selector" (unresolvable).
- NodeResourcesFit: pod count, cpu, memory, ephemeral-storage and extended resources against
  `status.allocatable` minus the requests of the pods already on the node -> "Too many pods",
  "Insufficient cpu", ... (resolvable). Resources in `ignored` (managedResources with
  ignoredByScheduler) are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

_SUFFIX: dict[str, Decimal | int] = {
    "": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "M": 10**6, "G": 10**9,
    "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
    "Ei": 2**60,
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
DEFAULT_MAX_PODS = 110


@dataclass(frozen=True, slots=True)
class Rejection:
    reasons: tuple[str, ...]
    unresolvable: bool


def quantity(value: object) -> Decimal:
    """A Kubernetes quantity ("100m", "1Gi", "2", "1e3") as a number; unparsable -> 0."""
    m = _QUANTITY.match(str(value).strip())
    if not m:
        return Decimal(0)
    try:
        number = Decimal(m.group(1)) * (Decimal(10) ** int(m.group(2)[1:]) if m.group(2) else 1)
    except InvalidOperation:
        return Decimal(0)
    return number * Decimal(_SUFFIX[m.group(3) or ""])


def pod_requests(pod: Mapping[str, Any]) -> dict[str, Decimal]:
    """max(sum of containers, largest init container) + overhead, per resource (requests,
    else limits: the API server defaults requests from limits)."""
    spec = pod.get("spec") or {}
    total: dict[str, Decimal] = {}
    for c in spec.get("containers") or []:
        for name, amount in _container_requests(c).items():
            total[name] = total.get(name, Decimal(0)) + amount
    for c in spec.get("initContainers") or []:
        for name, amount in _container_requests(c).items():
            total[name] = max(total.get(name, Decimal(0)), amount)
    for name, amount in (spec.get("overhead") or {}).items():
        total[name] = total.get(name, Decimal(0)) + quantity(amount)
    return total


def _container_requests(container: Mapping[str, Any]) -> dict[str, Decimal]:
    resources = container.get("resources") or {}
    merged = dict(resources.get("limits") or {})
    merged.update(resources.get("requests") or {})
    return {k: quantity(v) for k, v in merged.items()}


def node_ready(node: Mapping[str, Any]) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("key") and t.get("key") != taint.get("key"):
            continue
        if not t.get("key") and t.get("operator") != "Exists":
            continue
        if t.get("operator") == "Exists" or t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _matches_term(node: Mapping[str, Any], term: Mapping[str, Any]) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    fields = {"metadata.name": (node.get("metadata") or {}).get("name")}
    exprs = [(labels, e) for e in term.get("matchExpressions") or []]
    exprs += [(fields, e) for e in term.get("matchFields") or []]
    if not exprs:
        return False
    for source, e in exprs:
        op, key, values = e.get("operator"), e.get("key"), e.get("values") or []
        present = key in source
        value = source.get(key)
        ok = {
            "In": present and value in values,
            "NotIn": not present or value not in values,
            "Exists": present,
            "DoesNotExist": not present,
            "Gt": present and _int_or_none(value) is not None and values and _gt(value, values[0]),
            "Lt": present and _int_or_none(value) is not None and values and _gt(values[0], value),
        }.get(str(op), False)
        if not ok:
            return False
    return True


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _gt(a: object, b: object) -> bool:
    x, y = _int_or_none(a), _int_or_none(b)
    return x is not None and y is not None and x > y


def matches_affinity(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms")
    if required:
        return any(_matches_term(node, term) for term in required)
    return True


def check(
    pod: Mapping[str, Any],
    node: Mapping[str, Any],
    used: Mapping[str, Decimal],
    pods_on_node: int,
    ignored: frozenset[str] = frozenset(),
) -> Rejection | None:
    """None when the pod fits the node; else the reasons, as kube-scheduler words them."""
    spec = node.get("spec") or {}
    if spec.get("unschedulable"):
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        if not _tolerates(tolerations, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
            return Rejection(("node(s) were unschedulable",), True)
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    taints = [t for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
    if not node_ready(node):
        taints.append(NOT_READY_TAINT)
    for taint in taints:
        if not _tolerates(tolerations, taint):
            return Rejection(
                (f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}",), True
            )
    if not matches_affinity(pod, node):
        return Rejection(("node(s) didn't match Pod's node affinity/selector",), True)
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    reasons = []
    max_pods = int(quantity(allocatable["pods"])) if "pods" in allocatable else DEFAULT_MAX_PODS
    if pods_on_node + 1 > max_pods:
        reasons.append("Too many pods")
    for name, amount in sorted(pod_requests(pod).items()):
        if amount <= 0 or name in ignored or name == "pods":
            continue
        if name not in allocatable and name in ("cpu", "memory", "ephemeral-storage"):
            continue
        if used.get(name, Decimal(0)) + amount > quantity(allocatable.get(name, 0)):
            reasons.append(f"Insufficient {name}")
    return Rejection(tuple(reasons), False) if reasons else None


def least_allocated_score(
    pod: Mapping[str, Any], node: Mapping[str, Any], used: Mapping[str, Decimal]
) -> int:
    """NodeResourcesFit's default LeastAllocated score (cpu and memory, weight 1 each), 0..100.
    Pods without requests count as 100m cpu / 200Mi memory, as the scheduler's non-zero defaults do."""
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    requests = pod_requests(pod)
    scores = []
    for name, default in (("cpu", Decimal("0.1")), ("memory", Decimal(200 * 2**20))):
        capacity = quantity(allocatable.get(name, 0))
        if capacity <= 0:
            continue
        requested = used.get(name, Decimal(0)) + (requests.get(name) or default)
        scores.append(0 if requested > capacity else int((capacity - requested) * 100 / capacity))
    return sum(scores) // len(scores) if scores else 0
