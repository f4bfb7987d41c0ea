"""Input checks with kube-apiserver's codes and messages.

What is mimicked (and what is not):
- Decoding: malformed JSON, a body that is not an object, `metadata`/`spec` of the wrong JSON type,
  a `kind`/`apiVersion` other than the URL's → 400 BadRequest, as the real decoder answers.
- Names: DNS-1123 subdomain (most types) or label (namespaces, services), `generateName`,
  label keys/values → 422 Invalid with `causes`.
- Unknown fields: the real server's default `fieldValidation` is `Warn` (drop the field, send a
  `Warning` header); `fieldValidation=Strict` makes them a 400. For built-in types only top-level and
  `metadata` fields are known here (no full OpenAPI schemas); custom resources are checked and pruned
  against their CRD `openAPIV3Schema` (`lab.apiserver.schema`).
- Per-kind rules (pods, workloads, EndpointSlices, immutable ConfigMaps/Secrets): `lab.apiserver.specs`.
"""

# ruff: noqa: E501  (error messages are kube-apiserver's, verbatim)

from __future__ import annotations

from typing import Any

from lab.apiserver import constraints, schema, specs
from lab.apiserver.names import (
    DNS1035,
    DNS1035_MSG,
    LABEL,
    LABEL_MSG,
    LABEL_VALUE,
    QUALIFIED,
    SUBDOMAIN,
    SUBDOMAIN_MSG,
)
from lab.apiserver.resources import ResourceType
from lab.apiserver.status import APIError, bad_request, invalid

Obj = dict[str, Any]
Cause = tuple[str, str, str]

LABEL_NAMES = {"namespaces", "services"}

META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
}  # fmt: skip
TOP_FIELDS = {
    "ConfigMap": {"data", "binaryData", "immutable"},
    "Secret": {"data", "stringData", "type", "immutable"},
    "Event": {
        "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count", "type",
        "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance",
    },
    "EndpointSlice": {"addressType", "endpoints", "ports"},
    "Endpoints": {"subsets"},
    "ServiceAccount": {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    "ControllerRevision": {"data", "revision"},
    "Binding": {"target"},
    "Role": {"rules"},
    "ClusterRole": {"rules", "aggregationRule"},
    "RoleBinding": {"roleRef", "subjects"},
    "ClusterRoleBinding": {"roleRef", "subjects"},
    "Eviction": {"deleteOptions"},
    "Event.events.k8s.io": {
        "eventTime", "series", "reportingController", "reportingInstance", "action", "reason", "regarding",
        "related", "note", "type", "deprecatedSource", "deprecatedFirstTimestamp", "deprecatedLastTimestamp",
        "deprecatedCount",
    },
}  # fmt: skip
BASE_FIELDS = {"apiVersion", "kind", "metadata"}
NO_SPEC = {
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Event",
    "EndpointSlice",
    "Endpoints",
    "ServiceAccount",
    "ControllerRevision",
}


def decode_error(rt: ResourceType, message: str) -> APIError:
    return bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {message}')


def check_shape(rt: ResourceType, obj: Any) -> None:
    """Decoder-level checks (400): object, kind and apiVersion, JSON types of the envelope."""
    if not isinstance(obj, dict):
        raise bad_request(
            f"couldn't get version/kind; json parse error: json: cannot unmarshal {_jtype(obj)} into Go value "
            'of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
        )
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if rt.custom and not kind:  # unstructured decoding needs both
        raise bad_request(f"Object 'Kind' is missing in '{_compact(obj)}'")
    if rt.custom and not api_version:
        raise bad_request(f"Object 'apiVersion' is missing in '{_compact(obj)}'")
    if api_version not in (None, "", rt.api_version):
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
        )
    if kind not in (None, "", rt.kind):
        raise bad_request(
            f'{kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            f"converting ({rt.version}.{kind}) to ({rt.kind}): unknown conversion"
        )
    meta = obj.get("metadata", {})
    if meta is not None and not isinstance(meta, dict):
        raise decode_error(
            rt, f"json: cannot unmarshal {_jtype(meta)} into Go struct field {rt.kind}.metadata"
        )
    for key in ("labels", "annotations"):
        val = (meta or {}).get(key)
        if val is not None and (
            not isinstance(val, dict) or not all(isinstance(v, str) for v in val.values())
        ):
            raise decode_error(rt, f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{key}")
    for key in ("spec", "status"):
        val = obj.get(key)
        if val is not None and not isinstance(val, dict):
            raise decode_error(
                rt, f"json: cannot unmarshal {_jtype(val)} into Go struct field {rt.kind}.{key}"
            )


def _compact(obj: Any) -> str:
    import json

    return json.dumps(obj, separators=(",", ":"))


def _jtype(v: Any) -> str:
    return {str: "string", int: "number", float: "number", bool: "bool", list: "array"}.get(type(v), "object")


def unknown_fields(rt: ResourceType, obj: Obj) -> list[str]:
    """Top-level and metadata fields the real server would drop (built-in types)."""
    if rt.custom:
        return []
    allowed = BASE_FIELDS | TOP_FIELDS.get(f"{rt.kind}.{rt.group}", TOP_FIELDS.get(rt.kind, set()))
    if rt.kind not in NO_SPEC:
        allowed |= {"spec", "status"}
    if rt.kind == "Lease":
        allowed -= {"status"}
    out = [k for k in obj if k not in allowed]
    out += [f"metadata.{k}" for k in (obj.get("metadata") or {}) if k not in META_FIELDS]
    return out


def drop_fields(obj: Obj, paths: list[str]) -> None:
    for path in paths:
        head, _, rest = path.partition(".")
        if rest:
            (obj.get(head) or {}).pop(rest, None)
        else:
            obj.pop(head, None)


RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def _path_segment_causes(name: str, field: str) -> list[Cause]:
    """RBAC objects only need a valid path segment (`system:controller:x` is fine)."""
    if name in (".", ".."):
        return [(field, "FieldValueInvalid", f"Invalid value: \"{name}\": may not be '{name}'")]
    return [
        (field, "FieldValueInvalid", f"Invalid value: \"{name}\": may not contain '{bad}'")
        for bad in ("/", "%")
        if bad in name
    ]


def name_causes(rt: ResourceType, name: str, field: str = "metadata.name") -> list[Cause]:  # noqa: PLR0911
    if rt.kind in RBAC_KINDS and rt.group == "rbac.authorization.k8s.io":
        return _path_segment_causes(name, field)
    if rt.plural in LABEL_NAMES:
        if len(name) > 63:
            return [
                (field, "FieldValueInvalid", f'Invalid value: "{name}": must be no more than 63 characters')
            ]
        if rt.kind == "Service" and not DNS1035.match(name):  # ValidateServiceName: DNS-1035
            return [(field, "FieldValueInvalid", f'Invalid value: "{name}": {DNS1035_MSG}')]
        if not LABEL.match(name):
            return [(field, "FieldValueInvalid", f'Invalid value: "{name}": {LABEL_MSG}')]
        return []
    if len(name) > 253:
        return [(field, "FieldValueInvalid", f'Invalid value: "{name}": must be no more than 253 characters')]
    if not SUBDOMAIN.match(name):
        return [(field, "FieldValueInvalid", f'Invalid value: "{name}": {SUBDOMAIN_MSG}')]
    return []


def _label_causes(labels: dict[str, str]) -> list[Cause]:
    causes: list[Cause] = []
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if not QUALIFIED.match(name) or len(name) > 63 or (prefix and not SUBDOMAIN.match(prefix)):
            causes.append(
                ("metadata.labels", "FieldValueInvalid", f'Invalid value: "{key}": name part must consist of '
                 "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
            )  # fmt: skip
        if len(value) > 63 or not LABEL_VALUE.match(value):
            causes.append(
                ("metadata.labels", "FieldValueInvalid", f'Invalid value: "{value}": a valid label must be an empty '
                 "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                 "alphanumeric character")
            )  # fmt: skip
    return causes


def validate(rt: ResourceType, obj: Obj) -> None:
    """Semantic checks (422) on an object about to be stored."""
    meta = obj["metadata"]
    name = meta.get("name", "")
    causes = name_causes(rt, name) if name else []
    causes += _label_causes(meta.get("labels") or {})
    causes += constraints.meta_causes(meta)
    causes += specs.causes(rt, obj)
    if rt.custom and rt.schema is not None:
        causes += schema.check(obj, rt.schema)
    if causes:
        raise invalid(rt.kind, rt.group, name, causes)


def require_name(rt: ResourceType, meta: Obj) -> None:
    if not meta.get("name") and not meta.get("generateName"):
        raise invalid(
            rt.kind,
            rt.group,
            "",
            [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")],
        )
    if meta.get("generateName") and not meta.get("name"):
        causes = name_causes(rt, meta["generateName"].rstrip("-") or "x", "metadata.generateName")
        if causes:
            raise invalid(rt.kind, rt.group, "", causes)
