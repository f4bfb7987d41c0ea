"""Per-kind rules of the built-in types (422 Invalid, with kube-apiserver's fields and messages).

- Pods: containers need a name (DNS-1123 label, unique) and an image; extended resources (a
  domain-prefixed name such as `fip.io/ip`) need an integer quantity, a limit, and requests equal
  to limits (`ValidateResourceRequirements`). Updates may change only what `ValidatePodUpdate`
  allows (images, activeDeadlineSeconds, tolerations, terminationGracePeriodSeconds, gates).
- apps/v1 Deployments, ReplicaSets, StatefulSets: `spec.selector` required and matching the
  template's labels; the selector is immutable; StatefulSet updates may change only replicas,
  ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy, minReadySeconds
  (and revisionHistoryLimit).
- EndpointSlices: `addressType` required (IPv4, IPv6, FQDN), immutable.
- ConfigMaps and Secrets with `immutable: true`: data may not change, immutable may not be unset.
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

import re
from typing import Any

from lab.apiserver import constraints, servicevalidation
from lab.apiserver.names import LABEL, LABEL_MSG
from lab.apiserver.resources import ResourceType

Obj = dict[str, Any]
Cause = tuple[str, str, str]
WORKLOADS = {"Deployment", "ReplicaSet", "StatefulSet"}
NATIVE_PREFIXES = ("kubernetes.io/", "requests.", "hugepages-")
INTEGER = re.compile(r"^[0-9]+$")


def causes(rt: ResourceType, obj: Obj) -> list[Cause]:
    """Create-and-update rules for one object."""
    return constraints.object_causes(rt, obj) + _kind_causes(rt, obj) + servicevalidation.causes(rt, obj)


def _kind_causes(rt: ResourceType, obj: Obj) -> list[Cause]:
    if rt.group == "" and rt.kind == "Pod":
        return pod_causes(obj.get("spec") or {})
    if rt.group == "apps" and rt.kind in WORKLOADS:
        return _workload_causes(obj.get("spec") or {})
    if rt.kind == "EndpointSlice":
        if not obj.get("addressType"):
            return [("addressType", "FieldValueRequired", "Required value")]
        if obj["addressType"] not in ("IPv4", "IPv6", "FQDN"):
            return [
                (
                    "addressType",
                    "FieldValueNotSupported",
                    f'Unsupported value: "{obj["addressType"]}": supported values: "FQDN", "IPv4", "IPv6"',
                )
            ]
    return []


def update_causes(rt: ResourceType, old: Obj, new: Obj) -> list[Cause]:
    """Rules that compare the new object with the stored one."""
    return constraints.update_causes(rt, old, new) or _kind_update_causes(rt, old, new)


def _kind_update_causes(rt: ResourceType, old: Obj, new: Obj) -> list[Cause]:
    if rt.group == "" and rt.kind == "Pod":
        if _pod_spec_core(old.get("spec") or {}) != _pod_spec_core(new.get("spec") or {}):
            return [("spec", "FieldValueForbidden", POD_FORBIDDEN)]
        return []
    if rt.group == "" and rt.kind in ("ConfigMap", "Secret") and old.get("immutable"):
        out: list[Cause] = []
        for key in ("data", "binaryData"):
            if old.get(key) != new.get(key):
                out.append(
                    (key, "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set")
                )
        if not new.get("immutable"):
            out.append(
                ("immutable", "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set")
            )
        return out
    if rt.group == "apps" and rt.kind in WORKLOADS:
        return _workload_update_causes(rt.kind, old.get("spec") or {}, new.get("spec") or {})
    if rt.kind == "EndpointSlice" and old.get("addressType") != new.get("addressType"):
        return [
            (
                "addressType",
                "FieldValueInvalid",
                f'Invalid value: "{new.get("addressType")}": field is immutable',
            )
        ]
    return []


def _go_map(labels: Obj) -> str:
    return "map[" + " ".join(f"{k}:{v}" for k, v in sorted(labels.items())) + "]"


def selector_matches(selector: Obj, labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values):
            return False
        if (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def _workload_causes(spec: Obj) -> list[Cause]:
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        return [("spec.selector", "FieldValueRequired", "Required value")]
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    out: list[Cause] = []
    if not selector_matches(selector, labels):
        out.append(
            (
                "spec.template.metadata.labels",
                "FieldValueInvalid",
                f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
            )
        )
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        out.append(
            (
                "spec.replicas",
                "FieldValueInvalid",
                f"Invalid value: {replicas}: must be greater than or equal to 0",
            )
        )
    out += [(f"spec.template.{f}", r, m) for f, r, m in pod_causes(template.get("spec") or {})]
    return out


STS_UPDATABLE = {
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
    "revisionHistoryLimit",
}


def _workload_update_causes(kind: str, old: Obj, new: Obj) -> list[Cause]:
    if old.get("selector") != new.get("selector"):
        return [
            (
                "spec.selector",
                "FieldValueInvalid",
                f"Invalid value: {new.get('selector')}: field is immutable",
            )
        ]
    if kind == "StatefulSet":
        fixed_old = {k: v for k, v in old.items() if k not in STS_UPDATABLE}
        fixed_new = {k: v for k, v in new.items() if k not in STS_UPDATABLE}
        if fixed_old != fixed_new:
            return [
                (
                    "spec",
                    "FieldValueForbidden",
                    "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                )
            ]
    return []


def _resource_causes(path: str, resources: Obj) -> list[Cause]:
    out: list[Cause] = []
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    for where, values in (("requests", requests), ("limits", limits)):
        for name, qty in values.items():
            if "/" not in name or name.startswith(NATIVE_PREFIXES):
                continue
            if not INTEGER.match(str(qty)):
                out.append(
                    (
                        f"{path}.resources.{where}[{name}]",
                        "FieldValueInvalid",
                        f'Invalid value: "{qty}": must be an integer',
                    )
                )
            elif where == "requests" and name not in limits:
                out.append(
                    (
                        f"{path}.resources.limits[{name}]",
                        "FieldValueRequired",
                        "Required value: Limit must be set for non overcommitable resources",
                    )
                )
            elif where == "requests" and str(limits[name]) != str(qty):
                out.append(
                    (
                        f"{path}.resources.requests[{name}]",
                        "FieldValueInvalid",
                        f'Invalid value: "{qty}": must be equal to {name} limit of {limits[name]}',
                    )
                )
    return out


def pod_causes(spec: Obj) -> list[Cause]:
    containers = spec.get("containers")
    if not containers:
        return [("spec.containers", "FieldValueRequired", "Required value")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            causes.append((f"spec.containers[{i}]", "FieldValueInvalid", "Invalid value: must be an object"))
            continue
        cname = c.get("name") or ""
        if not cname:
            causes.append((f"spec.containers[{i}].name", "FieldValueRequired", "Required value"))
        elif not LABEL.match(cname):
            causes.append(
                (f"spec.containers[{i}].name", "FieldValueInvalid", f'Invalid value: "{cname}": {LABEL_MSG}')
            )
        elif cname in seen:
            causes.append(
                (f"spec.containers[{i}].name", "FieldValueDuplicate", f'Duplicate value: "{cname}"')
            )
        seen.add(cname)
        causes += _resource_causes(f"spec.containers[{i}]", c.get("resources") or {})
        if not c.get("image"):
            causes.append((f"spec.containers[{i}].image", "FieldValueRequired", "Required value"))
    return causes


POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates")
POD_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
    "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
    "negative)"
)


def _pod_spec_core(spec: Obj) -> Obj:
    out = {k: v for k, v in spec.items() if k not in POD_MUTABLE}
    for key in ("containers", "initContainers"):
        if isinstance(out.get(key), list):
            out[key] = [
                {k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c for c in out[key]
            ]
    return out
