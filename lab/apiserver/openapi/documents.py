"""The OpenAPI documents: `/openapi/v2` (one Swagger 2.0 document) and `/openapi/v3` (a root
listing one document per group-version, each at `serverRelativeURL` with a content hash).

What kubectl reads, and so what each document carries (see ../shared/reference/kubectl.md §1):
- a PATCH operation per kind whose `x-kubernetes-group-version-kind` is the kind, with the
  `fieldValidation` query parameter — kubectl then leaves validation to the server (the lab checks
  unknown fields and types itself, `lab.apiserver.fields`);
- PATCH request content types (strategic merge listed for built-ins, not for custom resources,
  as the real server);
- the schemas, with patch strategies and merge keys (`schemas`), for `kubectl apply`'s strategic
  merge patches and `kubectl explain`.

Documents are built when first asked for and cached per group-version against the registry's
generation, so a CRD created, changed or deleted shows at once; the hash (uppercase hex SHA-512
of the document, as kube-openapi's) changes with the content, so kubectl's HTTP cache refetches.
"""

# ruff: noqa: E501  (OpenAPI operation shapes read best one per line)

from __future__ import annotations

import hashlib
import threading
from typing import Any

import orjson

from lab.apiserver.openapi import schemas
from lab.apiserver.resources import Registry, ResourceType

Obj = dict[str, Any]
PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
SMP = "application/strategic-merge-patch+json"
INFO = {"title": "Kubernetes", "version": "v1.37.1-fip-lab"}


def _query(name: str, description: str, typ: str = "string") -> Obj:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": typ},
        "uniqueItems": True,
    }


WRITE_PARAMS = [
    _query("dryRun", "When present, indicates that modifications should not be persisted."),
    _query("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."),
    _query("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn or Strict."),
]  # fmt: skip
PATCH_PARAMS = [*WRITE_PARAMS, _query("force", "Force is going to force Apply requests.", "boolean")]


def _path_param(name: str) -> Obj:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "uniqueItems": True}


def _gvk(rt: ResourceType, kind: str | None = None) -> Obj:
    if kind == "Scale":
        return {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    return {"group": rt.group, "version": rt.version, "kind": kind or rt.kind}


def _schema_name(rt: ResourceType, kind: str | None = None) -> str:
    if kind == "Scale":
        return schemas.kind_name("autoscaling", "v1", "Scale") or ""
    if rt.custom:
        return schemas.crd_name(rt)
    return schemas.kind_name(rt.group, rt.version, kind or rt.kind) or ""


def _body(ref: str, types: list[str]) -> Obj:
    return {"content": {t: {"schema": {"$ref": ref}} for t in types}, "required": True}


def _op(
    rt: ResourceType,
    action: str,
    ref: str,
    params: list[Obj],
    *,
    kind: str | None = None,
    body: list[str] | None = None,
) -> Obj:
    verb = {
        "get": "read",
        "list": "list",
        "post": "create",
        "put": "replace",
        "patch": "patch",
        "delete": "delete",
    }[action]
    op: Obj = {
        "operationId": f"{verb}{rt.kind}",
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt, kind),
    }
    if body is not None:
        op["requestBody"] = _body(ref, body)
    return op


def paths(rt: ResourceType) -> dict[str, Obj]:
    """The REST paths of one type (collection, object, subresources), v3 shaped."""
    prefix = f"/apis/{rt.group}/{rt.version}" if rt.group else "/api/v1"
    scope = [_path_param("namespace")] if rt.namespaced else []
    base = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
    ref = schemas.V3_REF + _schema_name(rt)
    patch_types = PATCH_TYPES if rt.custom else [*PATCH_TYPES, SMP]
    out: dict[str, Obj] = {}
    if rt.verbs == ("create",):
        out[base] = {
            "post": _op(rt, "post", ref, WRITE_PARAMS, body=["application/json", "application/yaml"])
        }
        return out
    named = [*scope, _path_param("name")]
    out[base] = {
        "get": _op(rt, "list", ref, scope),
        "post": _op(rt, "post", ref, [*scope, *WRITE_PARAMS], body=["application/json", "application/yaml"]),
    }
    out[f"{base}/{{name}}"] = {
        "get": _op(rt, "get", ref, named),
        "put": _op(rt, "put", ref, [*named, *WRITE_PARAMS], body=["application/json", "application/yaml"]),
        "patch": _op(rt, "patch", ref, [*named, *PATCH_PARAMS], body=patch_types),
        "delete": _op(rt, "delete", ref, named),
    }
    if rt.namespaced:
        out[f"{prefix}/{rt.plural}"] = {"get": _op(rt, "list", ref, [])}
    for sub, kind in (("status", None), ("scale", "Scale")):
        if (sub == "status" and rt.has_status) or (sub == "scale" and rt.scale is not None):
            sref = schemas.V3_REF + _schema_name(rt, kind)
            out[f"{base}/{{name}}/{sub}"] = {
                "get": _op(rt, "get", sref, named, kind=kind),
                "put": _op(rt, "put", sref, [*named, *WRITE_PARAMS], kind=kind, body=["application/json"]),
                "patch": _op(rt, "patch", sref, [*named, *PATCH_PARAMS], kind=kind, body=patch_types),
            }
    return out


class Documents:
    """Builds and caches the documents; thread-safe (requests are served by many threads)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, bytes, str]] = {}

    @staticmethod
    def gv_key(rt: ResourceType) -> str:
        return f"apis/{rt.group}/{rt.version}" if rt.group else "api/v1"

    def _types(self, key: str) -> list[ResourceType]:
        return sorted((t for t in self.registry.all() if self.gv_key(t) == key), key=lambda t: t.plural)

    def _definitions(self, types: list[ResourceType]) -> dict[str, Obj]:
        defs, _ = schemas.builtin()
        roots: list[str] = []
        extra: dict[str, Obj] = {}
        for t in types:
            if t.custom:
                extra[schemas.crd_name(t)] = schemas.crd_schema(t)
                roots.append(schemas.META + "ObjectMeta")
            else:
                roots.append(_schema_name(t))
            if t.scale is not None:
                roots.append(_schema_name(t, "Scale"))
        roots += [schemas.META + "Status", schemas.META + "DeleteOptions"]
        merged = {**defs, **extra}
        names = schemas.closure(roots + list(extra), merged)
        return {n: merged[n] for n in names}

    def v3(self, key: str) -> tuple[bytes, str] | None:
        """One group-version document (JSON bytes, hash), or None if nothing is served there."""
        gen = self.registry.generation
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == gen:
                return hit[1], hit[2]
        types = self._types(key)
        if not types:
            return None
        doc_paths: dict[str, Obj] = {}
        for t in types:
            doc_paths.update(paths(t))
        doc = {
            "openapi": "3.0.0",
            "info": INFO,
            "paths": doc_paths,
            "components": {"schemas": schemas.to_v3(self._definitions(types))},
        }
        raw = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha512(raw).hexdigest().upper()
        with self._lock:
            self._cache[key] = (gen, raw, digest)
        return raw, digest

    def root(self) -> Obj:
        keys = sorted({self.gv_key(t) for t in self.registry.all()})
        out = {}
        for key in keys:
            built = self.v3(key)
            if built is not None:
                out[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={built[1]}"}
        return {"paths": out}

    def v2(self) -> bytes:
        """The single Swagger 2.0 document (JSON), every group-version's paths and definitions."""
        gen = self.registry.generation
        with self._lock:
            hit = self._cache.get("v2")
            if hit is not None and hit[0] == gen:
                return hit[1]
        types = sorted(self.registry.all(), key=lambda t: (t.group, t.version, t.plural))
        doc_paths: dict[str, Obj] = {}
        for t in types:
            for path, item in paths(t).items():
                doc_paths[path] = {verb: _v2_op(op) for verb, op in item.items()}
        doc = {"swagger": "2.0", "info": INFO, "paths": doc_paths, "definitions": self._definitions(types)}
        raw = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        with self._lock:
            self._cache["v2"] = (gen, raw, "")
        return raw


def _v2_op(op: Obj) -> Obj:
    """A v3 operation in Swagger 2.0 form (`consumes`, body parameter, `type` on parameters)."""
    out = {k: v for k, v in op.items() if k not in ("requestBody", "responses", "parameters")}
    params = [
        {k: v for k, v in p.items() if k != "schema"} | {"type": p["schema"]["type"]}
        for p in op["parameters"]
    ]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].replace(
        schemas.V3_REF, schemas.V2_REF
    )
    if "requestBody" in op:
        out["consumes"] = list(op["requestBody"]["content"])
        params.append({"name": "body", "in": "body", "required": True, "schema": {"$ref": ref}})
    out["parameters"] = params
    out["produces"] = ["application/json", "application/yaml"]
    out["responses"] = {"200": {"description": "OK", "schema": {"$ref": ref}}}
    return out
