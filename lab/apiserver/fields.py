"""Field validation of built-in objects against their OpenAPI definitions, as the real decoder does.

kube-apiserver decodes a body into Go structs: a field the type does not have is an unknown field
(dropped, reported per `fieldValidation`: `Ignore`, `Warn` — the default, one `Warning` header
each —, or `Strict`, a 400); a value of the wrong JSON type is a decode error (400,
`json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`).
The definitions are the generated ones (`lab.apiserver.openapi.schemas`), so the check reaches
every nesting level (`spec.template.spec.containers[0].imagePullPolicy`). `null` is accepted
anywhere (Go decodes it as the zero value); fields the definitions leave open
(`RawExtension`-like, `x-kubernetes-preserve-unknown-fields`) are not looked into.
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from lab.apiserver.openapi import schemas
from lab.apiserver.patch import merge_key
from lab.apiserver.resources import ResourceType
from lab.apiserver.schema import unknown as schema_unknown
from lab.apiserver.status import bad_request, invalid

Obj = dict[str, Any]
QUANTITY_FIELDS = {"sizeLimit"}


@dataclass
class Findings:
    unknown: list[str] = field(default_factory=list)
    type_error: str | None = None


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _go_type(schema: Obj) -> str:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        pkg, _, short = name.rpartition(".")
        if short in ("Time", "MicroTime"):
            return "string"
        return f"{pkg.rsplit('.', 1)[-1]}.{short}"
    typ = schema.get("type")
    if typ == "array":
        return "[]" + _go_type(schema.get("items") or {})
    if typ == "object":
        return "map[string]" + _go_type(schema.get("additionalProperties") or {"type": "string"})
    if typ == "integer":
        return str(schema.get("format", "int32"))
    return {"boolean": "bool", "number": "float64"}.get(str(typ), str(typ))


class Checker:
    def __init__(self, defs: dict[str, Obj], drop: bool) -> None:
        self.defs, self.drop = defs, drop
        self.found = Findings()

    def _resolve(self, schema: Obj) -> tuple[Obj, str]:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            return self.defs.get(name, {}), name
        return schema, ""

    def _mismatch(self, value: Any, schema: Obj, struct: str, dotted: str, key: str) -> bool:
        target, name = self._resolve(schema)
        typ = target.get("type")
        if name.endswith(("IntOrString", "Quantity")) or key in QUANTITY_FIELDS:
            ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        elif typ == "string":
            ok = isinstance(value, str)
        elif typ == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif typ == "number":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif typ == "boolean":
            ok = isinstance(value, bool)
        elif typ == "array":
            ok = isinstance(value, list)
        elif typ == "object":
            ok = isinstance(value, dict)
        else:
            ok = True
        if not ok and self.found.type_error is None:
            self.found.type_error = f"json: cannot unmarshal {_json_type(value)} into Go struct field {struct}.{dotted} of type {_go_type(schema)}"
        return not ok

    def walk(self, value: Any, schema: Obj, path: str, dotted: str, *, struct: str, key: str = "") -> None:
        if value is None or self.found.type_error is not None:
            return
        if self._mismatch(value, schema, struct, dotted, key):
            return
        target, name = self._resolve(schema)
        if target.get("x-kubernetes-preserve-unknown-fields"):
            return
        if isinstance(value, list):
            items = target.get("items") or {}
            for i, item in enumerate(value):
                self.walk(item, items, f"{path}[{i}]", dotted, struct=struct, key=key)
        elif isinstance(value, dict):
            props = target.get("properties")
            extra = target.get("additionalProperties")
            inner = name.rsplit(".", 1)[-1] or struct
            for k in list(value):
                sub_path = f"{path}.{k}" if path else k
                sub_dotted = f"{dotted}.{k}" if dotted else k
                if props is not None and k in props:
                    self.walk(value[k], props[k], sub_path, sub_dotted, struct=inner, key=k)
                elif isinstance(extra, dict):
                    self.walk(value[k], extra, sub_path, sub_dotted, struct=inner, key=k)
                elif props is not None:
                    self.found.unknown.append(sub_path)
                    if self.drop:
                        del value[k]


def check(group: str, version: str, kind: str, body: Obj, *, drop: bool) -> Findings | None:
    """Unknown fields and the first type error of a built-in body; None for kinds not described."""
    defs, _ = schemas.builtin()
    name = schemas.kind_name(group, version, kind)
    if name is None:
        return None
    checker = Checker(defs, drop)
    top = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
    checker.walk(top, {"$ref": "#/definitions/" + name}, "", "", struct=kind)
    if drop:  # top-level unknown keys were dropped from the copy; nested ones in place
        for k in [k for k in body if k not in ("apiVersion", "kind") and k not in top]:
            del body[k]
    return checker.found


def go_value(v: Any) -> str:
    """A JSON value as Go prints a `map[string]interface{}` with %v (`map[spec:map[replicas:two]]`)."""
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_value(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_value(i) for i in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return "<nil>" if v is None else str(v)


def _mode(query: dict[str, str]) -> str:
    return query.get("fieldValidation") or "Warn"


def warnings(paths: list[str], mode: str) -> list[str]:
    return [] if mode == "Ignore" else [f'unknown field \\"{p}\\"' for p in paths]


def check_patched(rt: ResourceType, obj: Obj, patch: Any, query: dict[str, str]) -> list[str]:
    """A built-in object after a json/merge/strategic patch, decoded as the server decodes it:
    a type error is a 422 on `patch`, unknown fields a 400 when Strict; returns warnings."""
    mode = _mode(query)
    found = None if rt.custom else check(rt.group, rt.version, rt.kind, obj, drop=mode != "Strict")
    if found is None:
        return []
    if found.type_error:
        shown = orjson.dumps(go_value(patch)).decode()  # Go's %q of the patch map printed with %+v
        raise invalid(
            "", "", "", [("patch", "FieldValueInvalid", f"Invalid value: {shown}: {found.type_error}")]
        )
    if found.unknown and mode == "Strict":
        raise bad_request(
            "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in found.unknown)
        )
    return warnings(found.unknown, mode)


def _typed_path(config: Obj, path: str, *, keyed: bool) -> str:
    """`spec.containers[1].x` as structured-merge-diff prints it: `.spec.containers[name="log"].x`
    (list items of keyed lists by their key)."""
    out, field_name = "", ""
    node: Any = config
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if token.startswith("["):
            index = int(token[1:-1])
            items = node if isinstance(node, list) else []
            item = items[index] if index < len(items) else None
            key = merge_key(field_name, items) if keyed else None
            if isinstance(item, dict) and key is not None and key in item:
                out += f"[{key}={json.dumps(item[key])}]"
            else:
                out += token
            node = item
        else:
            field_name = token
            out += f".{token}"
            node = node.get(token) if isinstance(node, dict) else None
    return out


def check_applied(
    rt: ResourceType, config: Obj, query: dict[str, str], namespace: str | None, name: str
) -> list[str]:
    """A server-side apply configuration, typed as the field manager types it: unknown fields are
    `failed to create typed patch object (ns/name; apps/v1, Kind=Deployment): .spec.x: field not
    declared in schema` (400 when Strict; otherwise dropped, with warnings)."""
    mode = _mode(query)
    if rt.custom:
        unknown = [p.lstrip(".") for p in schema_unknown(config, rt.schema)] if rt.schema else []
        type_error = None
    else:
        found = check(rt.group, rt.version, rt.kind, config, drop=mode != "Strict")
        if found is None:
            return []
        unknown, type_error = found.unknown, found.type_error
    key = f"{namespace}/{name}" if rt.namespaced and namespace else name
    typed = f"failed to create typed patch object ({key}; {rt.group}/{rt.version}, Kind={rt.kind})"
    if type_error:
        raise bad_request(f"{typed}: {type_error}")
    if unknown and mode == "Strict":
        errors = [
            f"{_typed_path(config, p, keyed=not rt.custom)}: field not declared in schema" for p in unknown
        ]
        shown = errors[0] if len(errors) == 1 else "errors:\n" + "\n".join(f"  {e}" for e in errors)
        raise bad_request(f"{typed}: {shown}")
    return warnings(unknown, mode)
