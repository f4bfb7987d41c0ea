"""CRD structural schemas: defaulting, pruning and validation of custom resources.

Done in the real server's order: defaults fill absent fields, unknown fields are pruned (unless
`x-kubernetes-preserve-unknown-fields`), then the value is validated: type, required, enum,
minimum/maximum, minLength/maxLength, pattern, minItems/maxItems, maxProperties,
`x-kubernetes-list-type: set` (no duplicates), and `x-kubernetes-validations` rules written in the
CEL subset of `lab.apiserver.cel` (a rule outside it is skipped). Messages follow
kube-apiserver's (`spec.vlan in body should be less than or equal to 4094`, ...).
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

import copy
import re
from typing import Any

from lab.apiserver import cel

Obj = dict[str, Any]
Cause = tuple[str, str, str]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
ENVELOPE = ("apiVersion", "kind", "metadata")


def jtype(v: Any) -> str:
    return {str: "string", int: "integer", float: "number", bool: "boolean", list: "array"}.get(
        type(v), "object"
    )


def check(obj: Obj, schema: Obj) -> list[Cause]:
    """Default, prune (in place) and validate a whole custom resource."""
    return _walk(obj, schema, "", top=True)


def _walk(value: Any, schema: Obj, path: str, top: bool = False) -> list[Cause]:
    shown = path or "<root>"
    typ = schema.get("type")
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
            (
                shown,
                "FieldValueTypeInvalid",
                f'Invalid value: "{jtype(value)}": {shown} in body must be of type {typ}: "{jtype(value)}"',
            )
        ]
    causes = _scalar(value, schema, shown)
    if isinstance(value, dict):
        causes += _object(value, schema, path, top)
    elif isinstance(value, list):
        causes += _array(value, schema, path)
    for rule in schema.get("x-kubernetes-validations") or []:
        try:
            ok = cel.evaluate(rule["rule"], value)
        except cel.Unsupported:
            continue
        if not ok:
            message = rule.get("message") or f"failed rule: {rule['rule']}"
            causes.append((shown, "FieldValueInvalid", f'Invalid value: "{jtype(value)}": {message}'))
    return causes


def _scalar(value: Any, schema: Obj, shown: str) -> list[Cause]:
    causes: list[Cause] = []
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(f'"{e}"' for e in schema["enum"])
        causes.append(
            (shown, "FieldValueNotSupported", f'Unsupported value: "{value}": supported values: {allowed}')
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
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            causes.append(
                (shown, "FieldValueTooLong", f"Too long: may not be more than {schema['maxLength']} bytes")
            )
        if "minLength" in schema and len(value) < schema["minLength"]:
            causes.append(
                (
                    shown,
                    "FieldValueInvalid",
                    f'Invalid value: "{value}": {shown} in body should be at least {schema["minLength"]} chars long',
                )
            )
        if "pattern" in schema and not re.search(schema["pattern"], value):
            causes.append(
                (
                    shown,
                    "FieldValueInvalid",
                    f"Invalid value: \"{value}\": {shown} in body should match '{schema['pattern']}'",
                )
            )
    return causes


def _object(value: Obj, schema: Obj, path: str, top: bool) -> list[Cause]:
    causes: list[Cause] = []
    props = schema.get("properties")
    for key, sub in (props or {}).items():
        if key not in value and "default" in sub:
            value[key] = copy.deepcopy(sub["default"])
    for req in schema.get("required") or []:
        if req not in value:
            causes.append((f"{path}.{req}".lstrip("."), "FieldValueRequired", "Required value"))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        causes.append(
            (
                path or "<root>",
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {schema['maxProperties']} items",
            )
        )
    for key in list(value):
        sub_path = f"{path}.{key}".lstrip(".")
        if top and key in ENVELOPE:
            continue
        if props is not None and key in props:
            causes += _walk(value[key], props[key], sub_path)
        elif isinstance(schema.get("additionalProperties"), dict):
            causes += _walk(value[key], schema["additionalProperties"], sub_path)
        elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
            del value[key]
    return causes


def _array(value: list[Any], schema: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    shown = path or "<root>"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        causes.append(
            (
                shown,
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
            )
        )
    if "minItems" in schema and len(value) < schema["minItems"]:
        causes.append(
            (
                shown,
                "FieldValueInvalid",
                f"Invalid value: {len(value)}: {shown} in body should have at least {schema['minItems']} items",
            )
        )
    if schema.get("x-kubernetes-list-type") == "set":
        seen: list[Any] = []
        for i, item in enumerate(value):
            if item in seen:
                causes.append((f"{path}[{i}]", "FieldValueDuplicate", f'Duplicate value: "{item}"'))
            seen.append(item)
    if isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            causes += _walk(item, schema["items"], f"{path}[{i}]")
    return causes


def unknown(value: Any, schema: Obj, path: str = "", top: bool = True) -> list[str]:
    """Paths the schema does not declare (for `fieldValidation=Strict` and `Warn`)."""
    out: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties")
        for key, sub in value.items():
            if top and key in ENVELOPE:
                continue
            sub_path = f"{path}.{key}"
            if props is not None and key in props:
                out += unknown(sub, props[key], sub_path, False)
            elif isinstance(schema.get("additionalProperties"), dict):
                out += unknown(sub, schema["additionalProperties"], sub_path, False)
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                out.append(sub_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += unknown(item, schema["items"], f"{path}[{i}]", False)
    return out
