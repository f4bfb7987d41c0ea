"""TApp (tkestack/tapp, `apps.tkestack.io/v1`): instances `"0" .. "replicas-1"`.

Each instance is a pod `<tapp>-<id>` labelled `tapp_instance_key: <id>` (the id is read from
the label, not the name), `tapp_template_hash_key` and `tapp_uniq_hash_key`, owned by the TApp
(controller, no blockOwnerDeletion). Instance `id` runs the template named by
`spec.templates[id]` from `spec.templatePool`, else `spec.template`. `spec.statuses[id]:
Killed` deletes that instance and it stays away; ids >= replicas are deleted. A deleted pod
of a wanted instance comes back with the same name and a new UID. A template change that only
changes images updates the pod in place (same UID); any other change recreates it. All
instances move in parallel, as the TApp controller does.
"""

from __future__ import annotations

import copy
from typing import Any

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.resources import PODS, TAPPS
from lab.workloads import workload

Obj = dict[str, Any]
INSTANCE = "tapp_instance_key"
TEMPLATE_HASH = "tapp_template_hash_key"
UNIQ_HASH = "tapp_uniq_hash_key"
KILLED = "Killed"


def _without_images(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    for section in ("containers", "initContainers"):
        for c in (t.get("spec") or {}).get(section) or []:
            c.pop("image", None)
    return t


class TAppController:
    resource = TAPPS

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    def reconcile(self, key: str) -> None:
        tapp = workload.live(self.client, TAPPS, key)
        if tapp is None:
            return
        spec = tapp.get("spec") or {}
        replicas = int(spec.get("replicas", 0))
        killed = {i for i, s in (spec.get("statuses") or {}).items() if s == KILLED}
        wanted = [str(i) for i in range(replicas) if str(i) not in killed]
        selector = spec.get("selector") or {
            "matchLabels": (spec.get("template") or {}).get("metadata", {}).get("labels")
        }
        pods: dict[str, Obj] = {}
        for owned in workload.list_owned_pods(self.client, tapp, selector):
            instance = (owned["metadata"].get("labels") or {}).get(INSTANCE)
            if instance is not None:
                pods[instance] = owned
        for instance in wanted:
            template = self._template(spec, instance)
            pod = pods.get(instance)
            if pod is None:
                workload.create_pod(self.client, self._pod(tapp, instance, template))
            elif not workload.is_terminating(pod):
                self._update(pod, template)
        for instance, pod in pods.items():
            if instance not in wanted and not workload.is_terminating(pod):
                workload.delete_pod(self.client, pod)
        self._status(tapp, pods, wanted, killed, selector)

    def _template(self, spec: Obj, instance: str) -> Obj:
        named = (spec.get("templates") or {}).get(instance)
        pool = spec.get("templatePool") or {}
        return dict(pool[named] if named in pool else spec.get("template") or {})

    def _pod(self, tapp: Obj, instance: str, template: Obj) -> Obj:
        meta, spec = tapp["metadata"], tapp.get("spec") or {}
        labels = {
            INSTANCE: instance,
            TEMPLATE_HASH: workload.template_hash(template),
            UNIQ_HASH: workload.template_hash(_without_images(template)),
        }
        ref = workload.owner_ref(tapp, TAPPS, block=False)
        name = f"{meta['name']}-{instance}"
        pod = workload.pod_from_template(template, meta["namespace"], ref, labels, name=name)
        if spec.get("serviceName"):
            pod["spec"]["hostname"] = name
            pod["spec"]["subdomain"] = spec["serviceName"]
        return pod

    def _update(self, pod: Obj, template: Obj) -> None:
        labels = pod["metadata"].get("labels") or {}
        if labels.get(TEMPLATE_HASH) == workload.template_hash(template):
            return
        if labels.get(UNIQ_HASH) != workload.template_hash(_without_images(template)):
            workload.delete_pod(self.client, pod)
            return
        images = {c["name"]: c.get("image") for c in (template.get("spec") or {}).get("containers") or []}
        containers = [
            {**c, "image": images.get(c["name"], c.get("image"))} for c in pod["spec"]["containers"]
        ]
        patch = {
            "metadata": {"labels": {TEMPLATE_HASH: workload.template_hash(template)}},
            "spec": {"containers": containers},
        }
        try:
            self.client.patch(PODS, pod["metadata"]["name"], patch, pod["metadata"]["namespace"])
        except KubeError as e:
            if e.status not in (404, 409, 422):
                raise

    def _status(
        self, tapp: Obj, pods: dict[str, Obj], wanted: list[str], killed: set[str], selector: Obj
    ) -> None:
        statuses: dict[str, str] = {}
        for instance, pod in pods.items():
            if workload.is_terminating(pod):
                statuses[instance] = "Killing"
            elif workload.is_running_and_ready(pod):
                statuses[instance] = "Running"
            elif (pod.get("status") or {}).get("phase") == "Failed":
                statuses[instance] = "PodFailed"
            elif (pod.get("status") or {}).get("phase") == "Succeeded":
                statuses[instance] = "PodSucc"
            else:
                statuses[instance] = "Pending"
        for instance in killed:
            statuses.setdefault(instance, KILLED)
        for instance in wanted:
            statuses.setdefault(instance, "NotCreated")
        live = [p for p in pods.values() if workload.is_active(p)]
        ready = [p for p in live if workload.is_ready(p)]
        running = all(statuses.get(i) == "Running" for i in wanted)
        workload.write_status(
            self.client,
            TAPPS,
            tapp,
            {
                "observedGeneration": tapp["metadata"].get("generation", 1),
                "replicas": len(live),
                "readyReplicas": len(ready),
                "scaleLabelSelector": workload.selector_string(selector),
                "appStatus": "Running" if running and wanted else ("Killed" if not wanted else "Pending"),
                "statuses": statuses,
            },
        )
