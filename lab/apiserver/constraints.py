"""Field-level rules of the core types, as kube-apiserver's `ValidateObjectMeta`, `ValidateConfigMap`,
`ValidateService`, `ValidatePodSpec`, `ValidateLease`, ... enforce them (422 with causes), plus the
conversions that keep `status.podIP`/`podIPs` (and `hostIP`/`hostIPs`) in step and the service
update that keeps allocated values (`patchAllocatedValues`).
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

import ipaddress
import re
from typing import Any

from lab.apiserver.names import QUALIFIED, SUBDOMAIN
from lab.apiserver.resources import ResourceType

Obj = dict[str, Any]
Cause = tuple[str, str, str]
ANNOTATIONS_MAX = 256 * 1024
CONFIG_MAX = 1024 * 1024
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
KEY_MSG = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def key_ok(key: str) -> bool:
    """A qualified name (`prefix/name` with a DNS-1123 subdomain prefix), as label and annotation keys."""
    prefix, slash, name = key.rpartition("/")
    return (
        bool(QUALIFIED.match(name))
        and len(name) <= 63
        and (not slash or (bool(SUBDOMAIN.match(prefix)) and len(prefix) <= 253))
    )


def meta_causes(meta: Obj) -> list[Cause]:
    out: list[Cause] = []
    annotations = meta.get("annotations") or {}
    for key in annotations:
        if not key_ok(key):
            out.append(("metadata.annotations", "FieldValueInvalid", f'Invalid value: "{key}": {KEY_MSG}'))
    if sum(len(k) + len(v) for k, v in annotations.items()) > ANNOTATIONS_MAX:
        out.append(
            (
                "metadata.annotations",
                "FieldValueTooLong",
                f"Too long: must have at most {ANNOTATIONS_MAX} bytes",
            )
        )
    for ref in meta.get("ownerReferences") or []:
        for field in ("apiVersion", "kind", "name", "uid"):
            if not (ref or {}).get(field):
                out.append(
                    (
                        f"metadata.ownerReferences.{field}",
                        "FieldValueInvalid",
                        f'Invalid value: "": {field} must not be empty',
                    )
                )
    return out


def object_causes(rt: ResourceType, obj: Obj) -> list[Cause]:
    if rt.group:
        if rt.kind == "Lease":
            duration = (obj.get("spec") or {}).get("leaseDurationSeconds")
            if isinstance(duration, int) and duration <= 0:
                return [
                    (
                        "spec.leaseDurationSeconds",
                        "FieldValueInvalid",
                        f"Invalid value: {duration}: must be greater than 0",
                    )
                ]
        return []
    if rt.kind in ("ConfigMap", "Secret"):
        return _data_causes(obj)
    if rt.kind == "Pod":
        return _pod_causes(obj)
    if rt.kind == "Service":
        return _service_causes(obj.get("spec") or {})
    return []


def _data_causes(obj: Obj) -> list[Cause]:
    out: list[Cause] = []
    total = 0
    for field in ("data", "binaryData", "stringData"):
        for key, value in (obj.get(field) or {}).items():
            total += len(key) + len(str(value))
            if not CONFIG_KEY.match(key) or len(key) > 253 or key in (".", ".."):
                out.append(
                    (
                        f"{field}[{key}]",
                        "FieldValueInvalid",
                        f"Invalid value: \"{key}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                    )
                )
    if total > CONFIG_MAX:
        out.append(("data", "FieldValueTooLong", f"Too long: must have at most {CONFIG_MAX} bytes"))
    return out


def _pod_causes(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    policy = spec.get("restartPolicy")
    if policy not in (None, "Always", "OnFailure", "Never"):
        out.append(
            (
                "spec.restartPolicy",
                "FieldValueNotSupported",
                f'Unsupported value: "{policy}": supported values: "Always", "OnFailure", "Never"',
            )
        )
    for key in spec.get("nodeSelector") or {}:
        if not key_ok(key):
            out.append(("spec.nodeSelector", "FieldValueInvalid", f'Invalid value: "{key}": {KEY_MSG}'))
    for group in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(group) or []):
            for j, port in enumerate((c or {}).get("ports") or [] if isinstance(c, dict) else []):
                number = (port or {}).get("containerPort")
                if not isinstance(number, int) or not 1 <= number <= 65535:
                    out.append(
                        (
                            f"spec.{group}[{i}].ports[{j}].containerPort",
                            "FieldValueInvalid",
                            f"Invalid value: {number}: must be between 1 and 65535, inclusive",
                        )
                    )
    status = obj.get("status") or {}
    for field in ("podIPs", "hostIPs"):
        for i, entry in enumerate(status.get(field) or []):
            ip = (entry or {}).get("ip", "")
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                out.append(
                    (
                        f"status.{field}[{i}].ip",
                        "FieldValueInvalid",
                        f'Invalid value: "{ip}": must be a valid IP address',
                    )
                )
    return out


def _service_causes(spec: Obj) -> list[Cause]:
    out: list[Cause] = []
    typ = spec.get("type", "ClusterIP")
    if typ not in SERVICE_TYPES:
        out.append(
            (
                "spec.type",
                "FieldValueNotSupported",
                f'Unsupported value: "{typ}": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
            )
        )
    ports = spec.get("ports") or []
    if not ports and typ != "ExternalName" and spec.get("clusterIP") != "None":
        out.append(("spec.ports", "FieldValueRequired", "Required value"))
    seen: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        if len(ports) > 1 and not port.get("name"):
            out.append((f"spec.ports[{i}].name", "FieldValueRequired", "Required value"))
        ident = (port.get("port"), port.get("protocol", "TCP"))
        if ident in seen:
            out.append(
                (f"spec.ports[{i}]", "FieldValueDuplicate", f'Duplicate value: "{ident[0]}/{ident[1]}"')
            )
        seen.add(ident)
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            out.append(
                (
                    f"spec.ports[{i}].port",
                    "FieldValueInvalid",
                    f"Invalid value: {number}: must be between 1 and 65535, inclusive",
                )
            )
    return out


def cluster_ip_taken(spec: Obj, services: list[Obj]) -> list[Cause]:
    """A Service asking for a ClusterIP another Service holds (the IP allocator's answer)."""
    ip = spec.get("clusterIP")
    if not ip or ip == "None" or not any((s.get("spec") or {}).get("clusterIP") == ip for s in services):
        return []
    return [
        (
            "spec.clusterIPs",
            "FieldValueInvalid",
            f'Invalid value: []string{{"{ip}"}}: failed to allocate IP {ip}: provided IP is already allocated',
        )
    ]


def update_causes(rt: ResourceType, old: Obj, new: Obj) -> list[Cause]:
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    kind = rt.kind if not rt.group or rt.group in ("apps", "batch") else ""
    if kind == "Secret" and old.get("type") != new.get("type"):
        return [("type", "FieldValueInvalid", f'Invalid value: "{new.get("type")}": field is immutable')]
    if kind == "Node":
        for field in ("podCIDR", "podCIDRs"):
            if os_.get(field) and os_.get(field) != ns_.get(field):
                return [
                    (
                        "spec.podCIDRs",
                        "FieldValueForbidden",
                        'Forbidden: node updates may not change podCIDR except from "" to valid',
                    )
                ]
    if kind == "Job" and os_.get("template") != ns_.get("template"):
        return [("spec.template", "FieldValueInvalid", "Invalid value: ...: field is immutable")]
    if kind == "ControllerRevision" and old.get("data") != new.get("data"):
        return [("data", "FieldValueInvalid", "Invalid value: ...: field is immutable")]
    if kind == "Service" and os_.get("clusterIP") and ns_.get("clusterIP") != os_.get("clusterIP"):
        return [
            (
                "spec.clusterIPs[0]",
                "FieldValueInvalid",
                f'Invalid value: []string{{"{ns_.get("clusterIP")}"}}: may not change once set',
            )
        ]
    return []


def normalize(rt: ResourceType, obj: Obj, old: Obj | None) -> None:
    """Conversion-time fix-ups: pod IP singular/plural fields in step; services keep allocated IPs."""
    if rt.group:
        return
    if rt.kind == "Pod" and isinstance(obj.get("status"), dict):
        status = obj["status"]
        for single, plural in (("podIP", "podIPs"), ("hostIP", "hostIPs")):
            ips = status.get(plural) or []
            first = ips[0].get("ip") if ips and isinstance(ips[0], dict) else None
            if status.get(single) and status[single] != first:  # the singular field is authoritative
                status[plural] = [{"ip": status[single]}]
            elif first and not status.get(single):
                status[single] = first
    if rt.kind == "Service" and old is not None:
        spec, before = obj.setdefault("spec", {}), old.get("spec") or {}
        if not spec.get("clusterIP") and before.get("clusterIP"):
            for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if field in before:
                    spec.setdefault(field, before[field])
