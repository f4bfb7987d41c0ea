"""`meta.k8s.io/v1 Table` and `PartialObjectMetadata` views of objects (server-side printing).

kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` on `get` (list, single
object and watch) and prints the rows it gets; a reply that is not a Table makes it fall back to
NAME/AGE. Built-in kinds print as kube-apiserver prints them (`lab.apiserver.printers`); custom
resources as apiextensions-apiserver's table convertor does: a `Name` column, then the CRD
version's `additionalPrinterColumns`, each cell the first value of its `jsonPath`
(`lab.apiserver.jsonpath`) converted to the column type — `date` cells become ages, a missing
value is null; a CRD without printer columns gets `Age`.

`includeObject` (`None`, `Metadata` — the default —, `Object`) chooses what each row carries:
nothing, a `PartialObjectMetadata` (kubectl reads namespace and labels from it for `-A`, `-L`,
`--show-labels`), or the whole object (kubectl sends `Object` with `--sort-by`).
"""

from __future__ import annotations

from typing import Any

from lab.apiserver import jsonpath, printers
from lab.apiserver.resources import ResourceType
from lab.apiserver.status import bad_request

Obj = dict[str, Any]

DESCRIPTIONS = {
    "Name": "Name must be unique within a namespace. Cannot be updated.",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object was created.",
}
CRD_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def include_mode(query: dict[str, str]) -> str:
    mode = query.get("includeObject") or "Metadata"
    if mode not in ("None", "Metadata", "Object"):
        raise bad_request(
            f'includeObject: Unsupported value: "{mode}": supported values: "None", "Metadata", "Object"'
        )
    return mode


def _crd_columns(rt: ResourceType) -> list[Obj]:
    return list(rt.printer_columns) or [CRD_AGE]


def columns(rt: ResourceType) -> list[Obj]:
    if rt.custom:
        out = [
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "description": DESCRIPTIONS["Name"],
                "priority": 0,
            }
        ]
        for c in _crd_columns(rt):
            out.append(
                {
                    "name": c.get("name", ""),
                    "type": c.get("type", "string"),
                    "format": c.get("format", ""),
                    "description": c.get("description", ""),
                    "priority": int(c.get("priority", 0)),
                }
            )
        return out
    cols, _ = printers.printer(rt.kind)
    return [
        {
            "name": name,
            "type": typ,
            "format": "name" if name == "Name" and i == 0 else "",
            "description": DESCRIPTIONS.get(name, name),
            "priority": prio,
        }
        for i, (name, typ, prio) in enumerate(cols)
    ]


def _crd_cell(column: Obj, obj: Obj, now: float) -> Any:  # noqa: PLR0911  (one return per column type)
    try:
        found = jsonpath.find(str(column.get("jsonPath", "")), obj)
    except jsonpath.PathError:
        return None
    if not found:
        return None
    value, typ = found[0], column.get("type", "string")
    if typ == "string":
        return jsonpath.text(value)
    if typ == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if typ == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if typ == "boolean" and isinstance(value, bool):
        return value
    if typ == "date" and isinstance(value, str):
        t = printers.parse_time(value)
        return None if t is None else printers.human_duration(now - t)
    return None


def cells(rt: ResourceType, obj: Obj, now: float) -> list[Any]:
    if rt.custom:
        name = (obj.get("metadata") or {}).get("name", "")
        return [name, *(_crd_cell(c, obj, now) for c in _crd_columns(rt))]
    _, row = printers.printer(rt.kind)
    return row(obj, now)


def partial(obj: Obj, version: str = "v1") -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": obj.get("metadata") or {},
    }


def row(rt: ResourceType, obj: Obj, now: float, include: str, version: str = "v1") -> Obj:
    out: Obj = {"cells": cells(rt, obj, now)}
    if include == "Metadata":
        out["object"] = partial(obj, version)
    elif include == "Object":
        out["object"] = obj
    return out


def table(
    rt: ResourceType,
    objs: list[Obj],
    now: float,
    meta: Obj,
    include: str,
    *,
    version: str = "v1",
    with_columns: bool = True,
) -> Obj:
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": meta,
        "columnDefinitions": columns(rt) if with_columns else None,
        "rows": [row(rt, o, now, include, version) for o in objs],
    }


def partial_list(objs: list[Obj], meta: Obj, version: str = "v1") -> Obj:
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": meta,
        "items": [partial(o, version) for o in objs],
    }
