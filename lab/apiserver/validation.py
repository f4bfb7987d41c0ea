"""Input checks with kube-apiserver's codes and messages.

What is mimicked (and what is not):
- Decoding: malformed JSON, a body that is not an object, `metadata`/`spec` of the wrong JSON type,
  a `kind`/`apiVersion` other than the URL's → 400 BadRequest, as the real decoder answers.
- Names: DNS-1123 subdomain (most types) or label (namespaces, services), `generateName`,
  label keys/values → 422 Invalid with `causes`.
- Unknown fields: the real server's default `fieldValidation` is `Warn` (drop the field, send a
  `Warning` header); `fieldValidation=Strict` makes them a 400. For built-in types only top-level and
  `metadata` fields are known here (no full OpenAPI schemas); custom resources are checked and pruned
  against their CRD `openAPIV3Schema` (types, required, enum, minimum/maximum).
- Pods: `spec.containers` required with name and image; updates may change only what the real server
  allows (`pod updates may not change fields other than …`).
"""

# ruff: noqa: E501  (error messages are kube-apiserver's, verbatim)

from __future__ import annotations

import re
from typing import Any

from lab.apiserver.resources import ResourceType
from lab.apiserver.status import APIError, bad_request, invalid

Obj = dict[str, Any]
Cause = tuple[str, str, str]

SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
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
    "Event.events.k8s.io": {
        "eventTime", "series", "reportingController", "reportingInstance", "action", "reason", "regarding",
        "related", "note", "type", "deprecatedSource", "deprecatedFirstTimestamp", "deprecatedLastTimestamp",
        "deprecatedCount",
    },
}  # fmt: skip
BASE_FIELDS = {"apiVersion", "kind", "metadata"}
NO_SPEC = {
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
        raise bad_request(f"json: cannot unmarshal {type(obj).__name__} into Go value of type struct")
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
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


def _jtype(v: Any) -> str:
    return {str: "string", int: "number", float: "number", bool: "bool", list: "array"}.get(type(v), "object")


def unknown_fields(rt: ResourceType, obj: Obj) -> list[str]:
    """Top-level and metadata fields the real server would drop (built-in types)."""
    if rt.custom:
        return []
    allowed = BASE_FIELDS | TOP_FIELDS.get(f"{rt.kind}.{rt.group}" if rt.group else rt.kind, set())
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


def name_causes(rt: ResourceType, name: str, field: str = "metadata.name") -> list[Cause]:
    if rt.plural in LABEL_NAMES:
        if len(name) > 63:
            return [
                (field, "FieldValueInvalid", f'Invalid value: "{name}": must be no more than 63 characters')
            ]
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
    if rt.kind == "Pod":
        causes += _pod_causes(obj.get("spec") or {})
    if rt.custom and rt.schema is not None:
        causes += schema_causes(obj, rt.schema, "", top=True)
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


def _pod_causes(spec: Obj) -> list[Cause]:
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


def check_pod_update(old: Obj, new: Obj) -> None:
    if _pod_spec_core(old.get("spec") or {}) != _pod_spec_core(new.get("spec") or {}):
        name = old["metadata"]["name"]
        raise invalid("Pod", "", name, [("spec", "FieldValueForbidden", POD_FORBIDDEN)])


# --- CRD structural schemas: validation and pruning ------------------------------------------------

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def schema_causes(value: Any, schema: Obj, path: str, top: bool = False) -> list[Cause]:  # noqa: PLR0912
    """Check `value` against a structural schema and prune unknown fields in place."""
    causes: list[Cause] = []
    typ = schema.get("type")
    shown = path or "<root>"
    if value is None:
        if schema.get("nullable"):
            return []
        return [
            (
                shown,
                "FieldValueTypeInvalid",
                f'Invalid value: "null": {shown} in body must be of type {typ}: "null"',
            )
        ]
    if typ in _TYPES and (
        not isinstance(value, _TYPES[typ]) or (typ != "boolean" and isinstance(value, bool))
    ):
        return [
            (shown, "FieldValueTypeInvalid",
             f'Invalid value: "{_jtype(value)}": {shown} in body must be of type {typ}: "{_jtype(value)}"')
        ]  # fmt: skip
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(f'"{e}"' for e in schema["enum"])
        causes.append(
            (shown, "FieldValueNotSupported", f"Unsupported value: {value!r}: supported values: {allowed}")
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            causes.append(
                (
                    shown,
                    "FieldValueInvalid",
                    f"Invalid value: {value}: {shown} in body should be greater than or equal to {schema['minimum']}",
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            causes.append(
                (
                    shown,
                    "FieldValueInvalid",
                    f"Invalid value: {value}: {shown} in body should be less than or equal to {schema['maximum']}",
                )
            )
    if isinstance(value, dict):
        props = schema.get("properties")
        for req in schema.get("required") or []:
            if req not in value:
                causes.append((f"{path}.{req}".lstrip("."), "FieldValueRequired", "Required value"))
        for key in list(value):
            sub_path = f"{path}.{key}".lstrip(".")
            if top and key in ("apiVersion", "kind", "metadata"):
                continue
            if props is not None and key in props:
                causes += schema_causes(value[key], props[key], sub_path)
            elif isinstance(schema.get("additionalProperties"), dict):
                causes += schema_causes(value[key], schema["additionalProperties"], sub_path)
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                del value[key]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            causes += schema_causes(item, schema["items"], f"{path}[{i}]")
    return causes


def schema_unknown(value: Any, schema: Obj, path: str = "", top: bool = True) -> list[str]:
    """Paths the schema does not declare (for `fieldValidation=Strict` and `Warn`)."""
    out: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties")
        for key, sub in value.items():
            if top and key in ("apiVersion", "kind", "metadata"):
                continue
            sub_path = f"{path}.{key}"
            if props is not None and key in props:
                out += schema_unknown(sub, props[key], sub_path, False)
            elif isinstance(schema.get("additionalProperties"), dict):
                out += schema_unknown(sub, schema["additionalProperties"], sub_path, False)
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                out.append(sub_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += schema_unknown(item, schema["items"], f"{path}[{i}]", False)
    return out
