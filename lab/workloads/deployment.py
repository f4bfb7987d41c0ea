"""Deployment: one ReplicaSet per pod template, rolled as kube-controller-manager rolls them.

The ReplicaSet for the current template is `<deployment>-<hash>` with label and selector
`pod-template-hash: <hash>`. Scaling changes its replicas. A template change creates a new
ReplicaSet and moves replicas to it:
- RollingUpdate (default, maxSurge/maxUnavailable 25%): the new ReplicaSet grows while the
  total stays within replicas + maxSurge; old ones shrink while available pods stay at least
  replicas - maxUnavailable (so old pods go as new ones become Ready);
- Recreate: old ReplicaSets go to 0, and the new one grows once their pods are gone.
Old ReplicaSets beyond `revisionHistoryLimit` (10) with no replicas are deleted.
"""

from __future__ import annotations

import math
from typing import Any

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.resources import DEPLOYMENTS, REPLICASETS
from lab.workloads import workload

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"


def resolve(value: object, total: int, round_up: bool) -> int:
    """An int-or-percent (maxSurge/maxUnavailable) against `total`."""
    if isinstance(value, str) and value.endswith("%"):
        amount = total * int(value[:-1]) / 100
        return math.ceil(amount) if round_up else math.floor(amount)
    return int(str(value))


def _replicas(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0))


def _status(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field, 0))


def _available(rs: Obj) -> int:
    """Available pods, never more than the ReplicaSet now asks for: its status may still count
    pods a scale-down is removing, and counting those would let a rollout remove too many."""
    return min(_status(rs, "availableReplicas"), _replicas(rs))


class DeploymentController:
    resource = DEPLOYMENTS

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    def reconcile(self, key: str) -> None:
        d = workload.live(self.client, DEPLOYMENTS, key)
        if d is None:
            return
        namespace = d["metadata"]["namespace"]
        spec = d.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        items = self.client.list(REPLICASETS, namespace).get("items") or []
        owned = sorted(
            (rs for rs in items if workload.owned_by(rs, d)),
            key=lambda rs: rs["metadata"].get("creationTimestamp") or "",
        )
        pod_hash = workload.template_hash(spec.get("template") or {})
        new = next(
            (rs for rs in owned if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == pod_hash),
            None,
        )
        old = [rs for rs in owned if rs is not new]
        strategy = spec.get("strategy") or {}
        if new is None:
            new = self._create_rs(d, pod_hash, old)
        if strategy.get("type") == "Recreate":
            self._recreate(new, old, desired)
        else:
            self._rolling(new, old, desired, strategy.get("rollingUpdate") or {})
        self._cleanup(old, int(spec.get("revisionHistoryLimit", 10)))
        every = [new, *old]
        workload.write_status(
            self.client,
            DEPLOYMENTS,
            d,
            {
                "observedGeneration": d["metadata"].get("generation", 1),
                "replicas": sum(_status(rs, "replicas") for rs in every),
                "updatedReplicas": _status(new, "replicas"),
                "readyReplicas": sum(_status(rs, "readyReplicas") for rs in every),
                "availableReplicas": sum(_status(rs, "availableReplicas") for rs in every),
                "unavailableReplicas": max(
                    0, desired - sum(_status(rs, "availableReplicas") for rs in every)
                ),
            },
        )

    def _create_rs(self, d: Obj, pod_hash: str, old: list[Obj]) -> Obj:
        spec = d.get("spec") or {}
        template = dict(spec.get("template") or {})
        tmeta = dict(template.get("metadata") or {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), "pod-template-hash": pod_hash}
        template["metadata"] = tmeta
        selector = dict(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), "pod-template-hash": pod_hash}
        revision = 1 + max(
            (int((rs["metadata"].get("annotations") or {}).get(REVISION, 0)) for rs in old), default=0
        )
        name = f"{d['metadata']['name']}-{pod_hash}"
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": d["metadata"]["namespace"],
                "labels": tmeta["labels"],
                "annotations": {REVISION: str(revision)},
                "ownerReferences": [workload.owner_ref(d, DEPLOYMENTS)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        try:
            return self.client.create(REPLICASETS, rs)
        except KubeError as e:
            if e.status != 409:
                raise
            return self.client.get(REPLICASETS, name, d["metadata"]["namespace"])

    def _scale(self, rs: Obj, replicas: int) -> None:
        if _replicas(rs) == replicas:
            return
        meta = rs["metadata"]
        patch = {"spec": {"replicas": replicas}}
        rs.setdefault("spec", {})["replicas"] = replicas
        self.client.patch(REPLICASETS, meta["name"], patch, meta["namespace"])

    def _recreate(self, new: Obj, old: list[Obj], desired: int) -> None:
        for rs in old:
            self._scale(rs, 0)
        if all(_status(rs, "replicas") == 0 for rs in old):
            self._scale(new, desired)

    def _rolling(self, new: Obj, old: list[Obj], desired: int, rolling: Obj) -> None:
        surge = resolve(rolling.get("maxSurge", "25%"), desired, round_up=True)
        unavailable = resolve(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        if not any(_replicas(rs) for rs in old):
            self._scale(new, desired)
            return
        total = _replicas(new) + sum(_replicas(rs) for rs in old)
        if _replicas(new) < desired:
            room = desired + surge - total
            if room > 0:
                self._scale(new, min(desired, _replicas(new) + room))
        elif _replicas(new) > desired:
            self._scale(new, desired)
        min_available = desired - unavailable
        available = sum(_available(rs) for rs in [new, *old])
        budget = available - min_available
        # old pods that are not available serve nothing: they go first, within the same budget
        total = _replicas(new) + sum(_replicas(rs) for rs in old)
        cleanup = total - min_available - (_replicas(new) - _available(new))
        for rs in old:
            unhealthy = min(_replicas(rs) - _available(rs), cleanup)
            if unhealthy > 0:
                self._scale(rs, _replicas(rs) - unhealthy)
                cleanup -= unhealthy
        for rs in old:
            if budget <= 0:
                break
            step = min(_replicas(rs), budget)
            if step > 0:
                self._scale(rs, _replicas(rs) - step)
                budget -= step

    def _cleanup(self, old: list[Obj], limit: int) -> None:
        idle = [rs for rs in old if _replicas(rs) == 0 and _status(rs, "replicas") == 0]
        for rs in idle[: max(0, len(idle) - limit)]:
            try:
                self.client.delete(REPLICASETS, rs["metadata"]["name"], rs["metadata"]["namespace"])
            except KubeError as e:
                if e.status != 404:
                    raise
