"""Generate lab/apiserver/openapi/builtin.json.gz: the OpenAPI definitions of the built-in kinds
the lab's API server serves, read from the official Python client's model classes.

    .venv/bin/python scripts/gen_openapi.py     # rewrites the committed data file

Why a generated file: the lab serves /openapi/v2 and /openapi/v3 (kubectl apply, explain, strategic
merge patch and server-side field validation need them), and the `kubernetes` package pinned in
requirements.lock (36.0.3) carries every built-in type as a model class — `openapi_types`
(field → type), `attribute_map` (field → JSON name), descriptions in the property docstrings,
required fields in the setters. Only fip/kube/client.py may import `kubernetes` (an import-linter
contract over the product and lab packages), so this script, outside those packages, turns the
models into plain JSON once; the lab loads that file. Patch strategies and merge keys are not in
the models: `lab/apiserver/openapi/patchmeta.py` adds them at load time.

Output: {"definitions": {name: schema}, "kinds": {"group/version/Kind": name}} with v2-style
`$ref`s (`#/definitions/<name>`). Names follow the real documents
(`io.k8s.api.core.v1.PodSpec`, `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`).
"""

# ruff: noqa: E501  (descriptions are kube-openapi's text)

from __future__ import annotations

import gzip
import inspect
import json
import pathlib
import re
import sys
from typing import Any

import kubernetes.client as models

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab.apiserver.resources import BUILTIN  # noqa: E402  (after the path is set)

OUT = REPO / "lab" / "apiserver" / "openapi" / "builtin.json.gz"
EXTRA_KINDS = [
    ("autoscaling", "v1", "Scale"),
    ("policy", "v1", "Eviction"),
    ("", "v1", "Binding"),
    ("authentication.k8s.io", "v1", "TokenRequest"),
    ("", "v1", "Status"),
    ("", "v1", "DeleteOptions"),
]
META = {
    "ObjectMeta", "ListMeta", "LabelSelector", "LabelSelectorRequirement", "ManagedFieldsEntry",
    "OwnerReference", "Condition", "Status", "StatusDetails", "StatusCause", "DeleteOptions",
    "Preconditions",
}  # fmt: skip
PACKAGES = {
    "": "io.k8s.api.core.v1",
    "apps": "io.k8s.api.apps.v1",
    "batch": "io.k8s.api.batch.v1",
    "policy": "io.k8s.api.policy.v1",
    "autoscaling": "io.k8s.api.autoscaling.v1",
    "coordination.k8s.io": "io.k8s.api.coordination.v1",
    "discovery.k8s.io": "io.k8s.api.discovery.v1",
    "events.k8s.io": "io.k8s.api.events.v1",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac.v1",
    "authorization.k8s.io": "io.k8s.api.authorization.v1",
    "authentication.k8s.io": "io.k8s.api.authentication.v1",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
}
INT_OR_STRING = {"targetPort", "port", "maxSurge", "maxUnavailable", "minAvailable"}
INT64 = {
    "terminationGracePeriodSeconds", "activeDeadlineSeconds", "runAsUser", "runAsGroup", "fsGroup",
    "generation", "observedGeneration", "deletionGracePeriodSeconds", "expirationSeconds",
    "gracePeriodSeconds", "revision", "supplementalGroups", "size", "sizeBytes", "value",
}  # fmt: skip
QUANTITY_MAPS = {("ResourceRequirements", "limits"), ("ResourceRequirements", "requests"),
                 ("NodeStatus", "capacity"), ("NodeStatus", "allocatable")}  # fmt: skip
_PREFIX = re.compile(r"^(?:[A-Z][a-z]+)*V\d+(?:alpha\d+|beta\d+)?(?=[A-Z])")


def go_name(cls_name: str) -> str:
    return _PREFIX.sub("", cls_name)


def find_class(group: str, version: str, kind: str) -> str:
    prefix = "".join(p.capitalize() for p in (group.split(".", maxsplit=1)[0] or "core").split("-"))
    for candidate in (f"V1{kind}", f"{prefix}V1{kind}"):
        if hasattr(models, candidate):
            return candidate
    raise SystemExit(f"gen_openapi: no model class for {group}/{version} {kind}")


def description(prop: Any) -> str:
    doc = inspect.getdoc(prop) or ""
    text = doc.split("\n\n", 1)[1] if "\n\n" in doc else ""
    text = text.split(":return:", 1)[0]
    return text.replace("  # noqa: E501", "").strip()


def required(cls: Any, attr: str) -> bool:
    try:
        src = inspect.getsource(getattr(cls, attr).fset)
    except (TypeError, OSError, AttributeError):
        return False
    return "must not be `None`" in src


class Generator:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # python class -> definition name
        self.defs: dict[str, Any] = {}

    def name_for(self, cls_name: str, package: str) -> str:
        if cls_name not in self.names:
            short = go_name(cls_name)
            pkg = "io.k8s.apimachinery.pkg.apis.meta.v1" if short in META else package
            self.names[cls_name] = f"{pkg}.{short}"
        return self.names[cls_name]

    def type_schema(self, typ: str, field: str, owner: str, package: str) -> dict[str, Any]:  # noqa: PLR0911
        if typ.startswith("list["):
            return {"type": "array", "items": self.type_schema(typ[5:-1], field, owner, package)}
        if typ.startswith("dict["):
            value = typ[5:-1].split(",", 1)[1].strip()
            if (owner, field) in QUANTITY_MAPS:
                return {
                    "type": "object",
                    "additionalProperties": {
                        "$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"
                    },
                }
            return {"type": "object", "additionalProperties": self.type_schema(value, field, owner, package)}
        if typ == "str":
            return {"type": "string"}
        if typ == "int":
            return {"type": "integer", "format": "int64" if field in INT64 else "int32"}
        if typ == "float":
            return {"type": "number", "format": "double"}
        if typ == "bool":
            return {"type": "boolean"}
        if typ == "datetime":
            return {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time"}
        if typ == "object":
            if field in INT_OR_STRING:
                return {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
            return {"x-kubernetes-preserve-unknown-fields": True}  # any JSON value (RawExtension, JSON)
        return {"$ref": "#/definitions/" + self.visit(typ, package)}

    def visit(self, cls_name: str, package: str) -> str:
        name = self.name_for(cls_name, package)
        if name in self.defs:
            return name
        cls = getattr(models, cls_name)
        schema: dict[str, Any] = {"type": "object", "properties": {}}
        self.defs[name] = schema
        short = go_name(cls_name)
        req = []
        for attr, typ in cls.openapi_types.items():
            field = cls.attribute_map[attr]
            prop = self.type_schema(typ, field, short, package)
            text = description(getattr(cls, attr))
            if text:
                prop["description"] = text
            schema["properties"][field] = prop
            if required(cls, attr):
                req.append(field)
        if req:
            schema["required"] = req
        return name

    def run(self) -> dict[str, Any]:
        kinds = {}
        targets = [(rt.group, rt.version, rt.kind) for rt in BUILTIN] + EXTRA_KINDS
        for group, version, kind in targets:
            cls_name = find_class(group, version, kind)
            kinds[f"{group}/{version}/{kind}"] = self.visit(cls_name, PACKAGES[group])
        self.defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"] = {
            "type": "string", "format": "date-time",
            "description": "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.",
        }  # fmt: skip
        self.defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {
            "type": "string", "format": "int-or-string",
            "description": "IntOrString is a type that can hold an int32 or a string.",
        }  # fmt: skip
        self.defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {
            "type": "string",
            "description": "Quantity is a fixed-point representation of a number (100m, 1Gi, 2).",
        }
        return {"definitions": dict(sorted(self.defs.items())), "kinds": kinds}


def main() -> int:
    data = Generator().run()
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress(raw, mtime=0))
    print(
        f"{OUT.relative_to(REPO)}: {len(data['definitions'])} definitions, {len(raw)} bytes ({OUT.stat().st_size} gz)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
