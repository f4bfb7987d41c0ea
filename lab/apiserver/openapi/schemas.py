"""Schemas for the OpenAPI documents: built-in definitions (generated data + patch metadata) and
custom resources (each CRD version's own `openAPIV3Schema`).

Built-ins come from `builtin.json.gz`, written by `scripts/gen_openapi.py` from kube-apiserver
1.37's own definitions (see that script for the source and why it is a generated file): with
descriptions, formats, the `x-kubernetes-patch-strategy`/`-patch-merge-key` extensions strategic
merge reads and, on each kind, the `x-kubernetes-group-version-kind` list kubectl matches. v2 refers with
`#/definitions/<name>`; v3 with `#/components/schemas/<name>`, a `$ref` beside a description
wrapped in `allOf` as kube-openapi writes it (kubectl follows `allOf[0]`).
"""

from __future__ import annotations

import copy
import functools
import gzip
import pathlib
from typing import Any

import orjson

from lab.apiserver.resources import ResourceType

Obj = dict[str, Any]
DATA = pathlib.Path(__file__).with_name("builtin.json.gz")
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
V2_REF, V3_REF = "#/definitions/", "#/components/schemas/"


@functools.cache
def builtin() -> tuple[dict[str, Obj], dict[str, str]]:
    """(definitions, "group/version/Kind" -> definition name), loaded once."""
    data = orjson.loads(gzip.decompress(DATA.read_bytes()))
    defs: dict[str, Obj] = data["definitions"]
    kinds: dict[str, str] = data["kinds"]
    for gvk, name in kinds.items():  # the generated data has them; make sure of the ones served
        group, version, kind = gvk.split("/")
        listed = defs[name].setdefault("x-kubernetes-group-version-kind", [])
        if {"group": group, "version": version, "kind": kind} not in listed:
            listed.append({"group": group, "version": version, "kind": kind})
    return defs, kinds


def kind_name(group: str, version: str, kind: str) -> str | None:
    return builtin()[1].get(f"{group}/{version}/{kind}")


def crd_name(rt: ResourceType) -> str:
    """`io.fip.v1.Subnet`: the reversed group, as the real server names CRD schemas."""
    return ".".join(reversed(rt.group.split("."))) + f".{rt.version}.{rt.kind}"


def crd_schema(rt: ResourceType) -> Obj:
    """A custom resource's schema: its CRD's, with the envelope fields and the GVK extension."""
    schema: Obj = (
        copy.deepcopy(rt.schema)
        if rt.schema
        else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    )
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {
        "type": "string",
        "description": "APIVersion defines the versioned schema of this representation of an object.",
    }
    props["kind"] = {
        "type": "string",
        "description": "Kind is a string value representing the REST resource this object represents.",
    }
    props["metadata"] = {"$ref": V2_REF + META + "ObjectMeta", "description": "Standard object's metadata."}
    schema["x-kubernetes-group-version-kind"] = [{"group": rt.group, "version": rt.version, "kind": rt.kind}]
    return schema


def closure(names: list[str], defs: dict[str, Obj]) -> list[str]:
    """Every definition reachable from `names` (a GV document carries only what it uses)."""
    seen: list[str] = []
    todo = list(names)
    found = set()
    while todo:
        name = todo.pop()
        if name in found or name not in defs:
            continue
        found.add(name)
        seen.append(name)
        _refs(defs[name], todo)
    return sorted(seen)


def _refs(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(V2_REF):
            out.append(ref[len(V2_REF) :])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


def to_v3(node: Any) -> Any:
    """v2 schema → v3: refs under components, a described `$ref` wrapped in `allOf`."""
    if isinstance(node, list):
        return [to_v3(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_v3(v) for k, v in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(V2_REF):
        ref = V3_REF + ref[len(V2_REF) :]
        if len(out) > 1:
            del out["$ref"]
            out["allOf"] = [{"$ref": ref}]
        else:
            out["$ref"] = ref
    if out.get("format") == "int-or-string":
        out = {k: v for k, v in out.items() if k not in ("type", "format")} | {
            "x-kubernetes-int-or-string": True
        }
    return out
