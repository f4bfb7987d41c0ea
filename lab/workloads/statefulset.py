"""StatefulSet: pods `<name>-<ordinal>` for ordinals `start .. start+replicas-1`.

As kube-controller-manager: a missing pod is created again with the same name (and so a new
UID); ordinals outside the range are deleted highest first. With the default
`OrderedReady` policy one step happens at a time — a pod is created only when every lower
ordinal is Running and Ready, and a condemned pod is deleted only once the previous deletion
finished; `Parallel` creates and deletes all at once. Pods carry
`statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
`controller-revision-hash`, and `hostname`/`subdomain` from `serviceName`. A template change
(RollingUpdate) replaces pods from the highest ordinal down, one at a time, each when all pods
are ready; `OnDelete` leaves that to the user.
"""

from __future__ import annotations

import re
from typing import Any

from fip.kube.client import KubeClient
from fip.kube.resources import STATEFULSETS
from lab.workloads import workload

Obj = dict[str, Any]
POD_NAME = "statefulset.kubernetes.io/pod-name"
POD_INDEX = "apps.kubernetes.io/pod-index"
REVISION = "controller-revision-hash"


class StatefulSetController:
    resource = STATEFULSETS

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    def reconcile(self, key: str) -> None:
        sts = workload.live(self.client, STATEFULSETS, key)
        if sts is None:
            return
        name = sts["metadata"]["name"]
        spec = sts.get("spec") or {}
        start = int((spec.get("ordinals") or {}).get("start", 0))
        replicas = int(spec.get("replicas", 1))
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        revision = f"{name}-{workload.template_hash(spec.get('template') or {})}"
        pattern = re.compile(rf"^{re.escape(name)}-(0|[1-9][0-9]*)$")
        pods: dict[int, Obj] = {}
        for pod in workload.list_owned_pods(self.client, sts, spec.get("selector")):
            m = pattern.match(pod["metadata"]["name"])
            if m:
                pods[int(m.group(1))] = pod
        wanted = range(start, start + replicas)
        blocked = self._create_missing(sts, pods, wanted, revision, ordered)
        if not blocked:
            blocked = self._delete_condemned(pods, wanted, ordered)
        if not blocked and (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            self._roll(pods, wanted, revision, spec)
        live = [p for p in pods.values() if workload.is_active(p)]
        current = [p for p in live if (p["metadata"].get("labels") or {}).get(REVISION) == revision]
        ready = [p for p in live if workload.is_ready(p)]
        workload.write_status(
            self.client,
            STATEFULSETS,
            sts,
            {
                "observedGeneration": sts["metadata"].get("generation", 1),
                "replicas": len(live),
                "readyReplicas": len(ready),
                "availableReplicas": len(ready),
                "currentReplicas": len(current),
                "updatedReplicas": len(current),
                "currentRevision": revision,
                "updateRevision": revision,
            },
        )

    def _create_missing(
        self, sts: Obj, pods: dict[int, Obj], wanted: range, revision: str, ordered: bool
    ) -> bool:
        """Create (or replace finished) pods in range; True when an ordered step must wait."""
        for ordinal in wanted:
            pod = pods.get(ordinal)
            if pod is None:
                workload.create_pod(self.client, self._pod(sts, ordinal, revision))
                if ordered:
                    return True
            elif workload.is_finished(pod) and not workload.is_terminating(pod):
                workload.delete_pod(self.client, pod)
                if ordered:
                    return True
            elif ordered and (workload.is_terminating(pod) or not workload.is_running_and_ready(pod)):
                return True
        return False

    def _delete_condemned(self, pods: dict[int, Obj], wanted: range, ordered: bool) -> bool:
        for ordinal in sorted((o for o in pods if o not in wanted), reverse=True):
            pod = pods[ordinal]
            if workload.is_terminating(pod):
                if ordered:
                    return True
                continue
            workload.delete_pod(self.client, pod)
            if ordered:
                return True
        return False

    def _roll(self, pods: dict[int, Obj], wanted: range, revision: str, spec: Obj) -> None:
        in_range = [pods[o] for o in wanted if o in pods]
        if len(in_range) < len(wanted) or not all(workload.is_running_and_ready(p) for p in in_range):
            return
        partition = int(((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0))
        for ordinal in sorted(wanted, reverse=True):
            pod = pods[ordinal]
            if ordinal >= partition and (pod["metadata"].get("labels") or {}).get(REVISION) != revision:
                workload.delete_pod(self.client, pod)
                return

    def _pod(self, sts: Obj, ordinal: int, revision: str) -> Obj:
        meta, spec = sts["metadata"], sts.get("spec") or {}
        name = f"{meta['name']}-{ordinal}"
        labels = {POD_NAME: name, POD_INDEX: str(ordinal), REVISION: revision}
        pod = workload.pod_from_template(
            spec.get("template") or {},
            meta["namespace"],
            workload.owner_ref(sts, STATEFULSETS),
            labels,
            name=name,
        )
        pod["spec"]["hostname"] = name
        if spec.get("serviceName"):
            pod["spec"]["subdomain"] = spec["serviceName"]
        return pod
