"""Which owner a pod's IP belongs to, read from the pod's own JSON.

The extender (at filter and bind) and the controllers (at release) must agree on this key, or a
restarted StatefulSet pod would look for its IP under a different owner than the one that
reserved it. So the rule lives here, once, as a pure function over the raw pod:

    controller ownerReference          owner
    apps StatefulSet "web"             StatefulSet web / <ordinal>
    apps.tkestack.io TApp "t"          TApp t / <instance id>
    apps ReplicaSet "web-5d9c"         Deployment web (via `deployment_of`, else the hash suffix)
    anything else, or none             Pod <pod name> (the pod owns its own IP)

The ordinal is the `apps.kubernetes.io/pod-index` label (Kubernetes >= 1.28), else the name
suffix after ``<statefulset>-``; the TApp instance is the `tapp_instance_key` label, else the same
name suffix. A workload pod whose identity cannot be read (no valid ordinal) falls back to a Pod
owner: it still gets an IP, released with the pod, rather than sharing a key with a sibling.

`deployment_of(namespace, replicaset)` answers from the caller's ReplicaSet cache:
the Deployment's name; ``""`` when the ReplicaSet is known and not owned by a Deployment (its
pods own their own IPs); ``None`` when the ReplicaSet is unknown (not cached yet), in which case
the Deployment name is the ReplicaSet name without its ``-<pod-template-hash>`` suffix, as the
Deployment controller names it; without that label the pod owns its own IP.

Structurally broken pods (metadata not a mapping, no valid name or namespace, ownerReferences not
a list of mappings) are refused with `InvalidInput` naming the field; the API server never sends
them, so only a forged request can.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fip.core.errors import InvalidInput
from fip.core.names import SUBDOMAIN, check_label, check_subdomain
from fip.core.owner import OwnerKey, OwnerKind
from fip.core.policy import ReleasePolicy, policy_from_annotations

POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
TAPP_INSTANCE_LABEL = "tapp_instance_key"
TEMPLATE_HASH_LABEL = "pod-template-hash"

DeploymentOf = Callable[[str, str], str | None]

_ORDINAL = re.compile(r"^(0|[1-9][0-9]{0,8})$")
_APPS = ("apps", "extensions")
_TAPP_GROUP = "apps.tkestack.io"


@dataclass(frozen=True, slots=True)
class PodOwner:
    """The owner key of a pod's IP and the release policy its annotations ask for."""

    owner: OwnerKey
    policy: ReleasePolicy


def resolve_owner(pod: Mapping[str, object], deployment_of: DeploymentOf) -> OwnerKey:
    """The `OwnerKey` the pod's IP belongs to (see the module docstring for the rules)."""
    meta = _metadata(pod)
    namespace = check_label("metadata.namespace", meta.get("namespace"))
    name = check_subdomain("metadata.name", meta.get("name"))
    labels = _labels(meta.get("labels"))
    ref = _controller(meta.get("ownerReferences"))
    own = OwnerKey(namespace, OwnerKind.POD, name)
    if ref is None:
        return own
    kind, group, ref_name = ref
    if not SUBDOMAIN.fits(ref_name):
        return own
    if kind == "StatefulSet" and group in _APPS:
        return _instance(own, OwnerKind.STATEFULSET, ref_name, labels.get(POD_INDEX_LABEL))
    if kind == "TApp" and group == _TAPP_GROUP:
        return _instance(own, OwnerKind.TAPP, ref_name, labels.get(TAPP_INSTANCE_LABEL))
    if kind == "ReplicaSet" and group in _APPS:
        deployment = deployment_of(namespace, ref_name)
        if deployment is None:
            deployment = _strip_hash(ref_name, labels.get(TEMPLATE_HASH_LABEL))
        if deployment and SUBDOMAIN.fits(deployment):
            return OwnerKey(namespace, OwnerKind.DEPLOYMENT, deployment)
    return own


def resolve(pod: Mapping[str, object], deployment_of: DeploymentOf) -> PodOwner:
    """Owner and release policy together; an invalid policy annotation is `InvalidInput`."""
    owner = resolve_owner(pod, deployment_of)
    annotations = _metadata(pod).get("annotations")
    if annotations is not None and not isinstance(annotations, Mapping):
        raise InvalidInput(
            "metadata.annotations", annotations, "is not a mapping", "give annotations as key: value strings"
        )
    return PodOwner(owner, policy_from_annotations(annotations))


def _metadata(pod: Mapping[str, object]) -> Mapping[str, object]:
    if not isinstance(pod, Mapping):
        raise InvalidInput("pod", pod, "is not an object", "send the Pod as a JSON object")
    meta = pod.get("metadata")
    if not isinstance(meta, Mapping):
        raise InvalidInput("metadata", meta, "is not a mapping", "send the Pod with its metadata")
    return meta


def _labels(value: object) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput("metadata.labels", value, "is not a mapping", "give labels as key: value strings")
    return value


def _controller(value: object) -> tuple[str, str, str] | None:
    """(kind, API group, name) of the controller reference, or None. Only a reference with
    `controller: true` counts: other owners (garbage-collection parents) do not decide identity."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidInput("metadata.ownerReferences", value, "is not a list", "give a list of references")
    for i, ref in enumerate(value):
        if not isinstance(ref, Mapping):
            raise InvalidInput(
                f"metadata.ownerReferences[{i}]", ref, "is not a mapping", "give apiVersion, kind, name"
            )
        if ref.get("controller") is not True:
            continue
        kind, api_version, name = ref.get("kind"), ref.get("apiVersion"), ref.get("name")
        if not (isinstance(kind, str) and isinstance(api_version, str) and isinstance(name, str)):
            return None
        group = api_version.rpartition("/")[0]
        return kind, group, name
    return None


def _instance(own: OwnerKey, kind: OwnerKind, workload: str, label: object) -> OwnerKey:
    """Workload instance from the label when it is a valid ordinal, else from the name suffix."""
    if isinstance(label, str) and _ORDINAL.fullmatch(label):
        return OwnerKey(own.namespace, kind, workload, label)
    prefix = workload + "-"
    if own.name.startswith(prefix) and _ORDINAL.fullmatch(own.name[len(prefix) :]):
        return OwnerKey(own.namespace, kind, workload, own.name[len(prefix) :])
    return own


def _strip_hash(replicaset: str, template_hash: object) -> str:
    """The Deployment name the Deployment controller used for `replicaset`, or "" if unknown."""
    if not isinstance(template_hash, str) or not template_hash:
        return ""
    suffix = "-" + template_hash
    if replicaset.endswith(suffix) and len(replicaset) > len(suffix):
        return replicaset[: -len(suffix)]
    return ""
