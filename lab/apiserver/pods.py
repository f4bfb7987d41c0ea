"""Pod-specific server behaviour: graceful deletion, the `binding` and `eviction` subresources.

Graceful deletion (`pkg/registry/core/pod/strategy.go` `CheckGracefulDelete`): a pod that is not
bound to a node, or has finished (Succeeded/Failed), is deleted at once; otherwise DELETE sets
`deletionTimestamp` = now + grace and `deletionGracePeriodSeconds` (from the request, else
`spec.terminationGracePeriodSeconds`, else 30) and emits MODIFIED. The pod goes (DELETED) when the
kubelet confirms with a DELETE with gracePeriodSeconds=0, or when the grace period ends
(`lab.apiserver.gc.Reaper` — the real server needs the kubelet; the lab's stand-in may be absent).

Binding (`BindingREST`): name must match the URL, `target.name` is required and `target.kind`
must be Node or empty, `metadata.uid`/`resourceVersion` are preconditions (409), a pod already
bound, being deleted, or with scheduling gates is a 409; on success `spec.nodeName` is set, the
binding's annotations merge into the pod's, and a `PodScheduled=True` condition is added.
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lab.apiserver import disruption, validation
from lab.apiserver.status import APIError, bad_request, conflict, invalid

if TYPE_CHECKING:
    from lab.apiserver.store import Store

Obj = dict[str, Any]


def grace_period(pod: Obj, requested: int | None) -> int:
    spec = pod.get("spec") or {}
    if not spec.get("nodeName") or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return max(0, requested)
    value = spec.get("terminationGracePeriodSeconds")
    return 30 if value is None else max(0, int(value))


def grace_expired(pod: Obj, now: float) -> bool:
    stamp = pod["metadata"].get("deletionTimestamp")
    if not stamp:
        return False
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() <= now


def bind(storage: Store, ns: str, name: str, body: Any) -> Obj:  # noqa: PLR0912
    """Apply a Binding to pod `ns/name`; returns the updated pod (HTTP answers 201 Status)."""
    if not isinstance(body, dict):
        raise bad_request("json: cannot unmarshal into Go value of type v1.Binding")
    meta = body.get("metadata") or {}
    if body.get("kind") not in (None, "", "Binding"):
        raise bad_request(f'{body.get("kind")} in version "v1" cannot be handled as a Binding')
    if meta.get("name") and meta["name"] != name:
        raise bad_request("name in URL does not match name in Binding object")
    if meta.get("namespace") and meta["namespace"] != ns:
        raise bad_request("namespace in URL does not match namespace in Binding object")
    target = body.get("target") or {}
    if not target.get("name"):
        raise APIError(500, "InternalError", "Internal error occurred: target.name: Required value")
    if target.get("kind") not in (None, "", "Node"):
        raise APIError(
            500,
            "InternalError",
            f'Internal error occurred: target.kind: Unsupported value: "{target["kind"]}": supported values: "Node", "<empty>"',
        )
    rt = storage.registry.lookup("pods")
    with storage.lock:
        pod = storage.current(rt, ns, name)
        pm = pod["metadata"]
        if meta.get("uid") and meta["uid"] != pm["uid"]:
            raise conflict(
                "pods",
                "",
                name,
                f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: {pm['uid']}",
            )
        if meta.get("resourceVersion") and meta["resourceVersion"] != pm["resourceVersion"]:
            raise conflict(
                "pods",
                "",
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        spec = pod.get("spec") or {}
        if pm.get("deletionTimestamp"):
            raise conflict(
                "pods/binding", "", name, f"pod {name} is being deleted, cannot be assigned to a host"
            )
        if spec.get("nodeName"):
            raise conflict(
                "pods/binding", "", name, f'pod {name} is already assigned to node "{spec["nodeName"]}"'
            )
        if spec.get("schedulingGates"):
            raise conflict("pods/binding", "", name, f"pod {name} has non-empty .spec.schedulingGates")
        annotations = meta.get("annotations") or {}
        if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
            raise bad_request(
                'Binding in version "v1" cannot be handled as a Binding: metadata.annotations must be strings'
            )
        new = dict(pod)
        new["metadata"] = dict(pm)
        if annotations:
            new["metadata"]["annotations"] = {**(pm.get("annotations") or {}), **annotations}
        new["spec"] = dict(spec, nodeName=target["name"])
        status = dict(pod.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": storage.now(),
            }
        )
        status["conditions"] = conditions
        new["status"] = status
        causes = validation.name_causes(storage.registry.lookup("nodes"), target["name"], "target.name")
        if causes:
            raise invalid("Binding", "", name, causes)
        return storage._commit(rt, "MODIFIED", new, pod)


def evict(storage: Store, ns: str, name: str, body: Any) -> None:
    """`pods/eviction` (policy/v1 Eviction): a graceful delete, refused (429) when the one matching
    PodDisruptionBudget allows no disruption (`lab.apiserver.disruption` computes the status of a
    budget nothing maintains); more than one matching budget is a 500."""
    from lab.apiserver.deletion import DeleteOptions
    from lab.apiserver.specs import selector_matches

    if not isinstance(body, dict):
        raise bad_request("json: cannot unmarshal into Go value of type policy.Eviction")
    if (body.get("metadata") or {}).get("name") not in (None, "", name):
        raise bad_request("name in URL does not match name in Eviction object")
    options = body.get("deleteOptions") or {}
    pod = storage.current(storage.registry.lookup("pods"), ns, name)
    labels = pod["metadata"].get("labels") or {}
    pdbs = storage.list_rt(storage.registry.lookup("poddisruptionbudgets"), ns).items
    matching = [
        p
        for p in pdbs
        if (p.get("spec") or {}).get("selector") and selector_matches(p["spec"]["selector"], labels)
    ]
    if len(matching) > 1:
        raise APIError(
            500, "InternalError",
            "Internal error occurred: This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        )  # fmt: skip
    pdb_rt = storage.registry.lookup("poddisruptionbudgets")
    for pdb in [] if disruption.may_ignore_budget(pod) else matching:
        status = pdb.get("status") or {}
        generation = pdb["metadata"].get("generation", 1)
        uid = pdb["metadata"].get("uid", "")
        if status.get("observedGeneration", 0) < generation or uid in storage.lab_budgets:
            storage.lab_budgets.add(uid)  # nothing else maintains it: recomputed as the controller would
            selected = [
                p for p in storage.list_rt(storage.registry.lookup("pods"), ns).items
                if selector_matches(pdb["spec"]["selector"], p["metadata"].get("labels") or {})
            ]  # fmt: skip
            status = disruption.status_for(pdb, selected, lambda p: _controller_replicas(storage, p))
            if status["disruptionsAllowed"] <= 0:  # what the controller would have written, kept
                storage.update_rt(
                    pdb_rt, ns, pdb["metadata"]["name"], {**pdb, "status": status}, subresource="status"
                )
        if status.get("disruptionsAllowed", 0) <= 0:
            raise _budget_refusal(
                f"The disruption budget {pdb['metadata']['name']} needs {status.get('desiredHealthy', 0)} healthy pods and has {status.get('currentHealthy', 0)} currently"
            )
        status = {
            **status,
            "disruptionsAllowed": status["disruptionsAllowed"] - 1,
            "disruptedPods": {**(status.get("disruptedPods") or {}), name: storage.now()},
        }
        storage.update_rt(
            pdb_rt, ns, pdb["metadata"]["name"], {**pdb, "status": status}, subresource="status"
        )
    pre = options.get("preconditions") or {}
    grace = options.get("gracePeriodSeconds")
    storage.delete_rt(
        storage.registry.lookup("pods"), ns, name,
        DeleteOptions(None if grace is None else int(grace), options.get("propagationPolicy"), pre.get("uid"), pre.get("resourceVersion")),
    )  # fmt: skip


def _controller_replicas(storage: Store, pod: Obj) -> int | None:
    """spec.replicas of the pod's controller (ReplicaSet, StatefulSet ...), None if it has none."""
    ref = next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
    if ref is None:
        return None
    group = str(ref.get("apiVersion", "")).rpartition("/")[0]
    for rt in storage.registry.all():
        if rt.kind == ref.get("kind") and rt.group == group and rt.scale is not None:
            owner = storage._bucket(rt).get((pod["metadata"].get("namespace", ""), ref.get("name", "")))
            if owner is not None:
                return int((owner.get("spec") or {}).get("replicas", 1))
    return None


def _budget_refusal(message: str) -> APIError:
    """The 429 kube-apiserver answers when an eviction would break a PodDisruptionBudget; clients
    (kubectl drain) retry on it, and read why from the one DisruptionBudget cause."""
    return APIError(
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
        {"causes": [{"reason": "DisruptionBudget", "message": message}]},
    )
