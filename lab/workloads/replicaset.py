"""ReplicaSet: keep `spec.replicas` active pods whose controller is the ReplicaSet.

Pods are named `<rs>-<random>` (generateName). Terminating and finished pods do not count.
Orphans that match the selector are adopted. On scale-down the pods least useful to keep go
first, as in kube-controller-manager (`ActivePodsWithRanks`): unscheduled before scheduled,
pending before running, not ready before ready, then the newest.
"""

from __future__ import annotations

from typing import Any

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.resources import PODS, REPLICASETS
from lab.workloads import workload

Obj = dict[str, Any]


def _deletion_rank(pod: Obj) -> tuple[int, int, int, str]:
    phase = (pod.get("status") or {}).get("phase")
    return (
        1 if (pod.get("spec") or {}).get("nodeName") else 0,
        {"Pending": 0, "Unknown": 1, "Running": 2}.get(str(phase), 0),
        1 if workload.is_ready(pod) else 0,
        _negated((pod.get("metadata") or {}).get("creationTimestamp") or ""),
    )


def _negated(timestamp: str) -> str:
    """Sort newest first with an ascending sort."""
    return "".join(chr(0x10FFFF - ord(c)) for c in timestamp)


class ReplicaSetController:
    resource = REPLICASETS

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    def reconcile(self, key: str) -> None:
        rs = workload.live(self.client, REPLICASETS, key)
        if rs is None:
            return
        namespace, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        spec = rs.get("spec") or {}
        selector = spec.get("selector")
        pods = self._claim(rs, selector)
        active = [p for p in pods if workload.is_active(p)]
        want = int(spec.get("replicas", 1))
        if len(active) < want:
            template = spec.get("template") or {}
            ref = workload.owner_ref(rs, REPLICASETS)
            for _ in range(want - len(active)):
                pod = workload.pod_from_template(template, namespace, ref, {}, generateName=f"{name}-")
                self.client.create(PODS, pod)
        elif len(active) > want:
            for pod in sorted(active, key=_deletion_rank)[: len(active) - want]:
                workload.delete_pod(self.client, pod)
        ready = [p for p in active if workload.is_ready(p)]
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        labelled = [
            p for p in active if template_labels.items() <= (p["metadata"].get("labels") or {}).items()
        ]
        workload.write_status(
            self.client,
            REPLICASETS,
            rs,
            {
                "replicas": len(active),
                "fullyLabeledReplicas": len(labelled),
                "readyReplicas": len(ready),
                "availableReplicas": len(ready),
                "observedGeneration": rs["metadata"].get("generation", 1),
            },
        )

    def _claim(self, rs: Obj, selector: Any) -> list[Obj]:
        """Owned pods, plus orphans matching the selector, which are adopted."""
        ns = rs["metadata"]["namespace"]
        items = (
            self.client.list(PODS, ns, label_selector=workload.selector_string(selector)).get("items") or []
        )
        owned = []
        for pod in items:
            if workload.owned_by(pod, rs):
                owned.append(pod)
            elif workload.controller_of(pod) is None and workload.is_active(pod):
                refs = [*(pod["metadata"].get("ownerReferences") or []), workload.owner_ref(rs, REPLICASETS)]
                patch = {
                    "metadata": {
                        "ownerReferences": refs,
                        "resourceVersion": pod["metadata"]["resourceVersion"],
                    }
                }
                try:
                    owned.append(self.client.patch(PODS, pod["metadata"]["name"], patch, ns))
                except KubeError as e:
                    if e.status not in (404, 409):
                        raise
        return owned
