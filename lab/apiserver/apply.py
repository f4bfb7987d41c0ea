"""Server-side apply (`application/apply-patch+yaml`) with field ownership.

Each applied object carries `metadata.managedFields`: per field manager, the set of leaf fields it
owns, encoded as FieldsV1 (`{"f:data": {"f:a": {}}}`). An apply by manager M of config C:
- creates the object from C when it does not exist (201);
- conflicts (409, one cause per field) when C sets a field another manager owns to a different
  value, unless `force=true`, which takes the field over;
- removes fields M applied before but no longer applies, unless another manager owns them;
- merges C into the object and records M's ownership of C's fields.
Every other write through the API (POST/PUT/PATCH) records `operation: Update` for its manager
(`fieldManager`, else the User-Agent's product name) and takes the fields it changes. Writes made
in process (`api.storage`) record nothing. Simplification: lists are atomic (owned as a whole).
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

import copy
import json
from typing import Any

from lab.apiserver.status import APIError

Obj = dict[str, Any]
Path = tuple[str, ...]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SKIP_META = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
}


def leaf_paths(obj: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            if not prefix and key in ("apiVersion", "kind", "status"):
                continue
            if prefix == ("metadata",) and key in SKIP_META:
                continue
            out |= leaf_paths(value, (*prefix, key))
    elif prefix:
        out.add(prefix)
    return out


def to_fields(paths: set[Path]) -> Obj:
    root: Obj = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return root


def from_fields(fields: Obj, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in fields.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        out |= from_fields(sub, path) if sub else {path}
    return out


def get(obj: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _remove(obj: Obj, path: Path) -> None:
    parents = [obj]
    for part in path[:-1]:
        nxt = parents[-1].get(part)
        if not isinstance(nxt, dict):
            return
        parents.append(nxt)
    parents[-1].pop(path[-1], None)
    for depth in range(len(parents) - 1, 0, -1):  # drop maps left empty
        if not parents[depth]:
            parents[depth - 1].pop(path[depth - 1], None)


def _merge(target: Obj, config: Obj) -> None:
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def entries(obj: Obj) -> list[Obj]:
    return list((obj.get("metadata") or {}).get("managedFields") or [])


def _entry(manager: str, operation: str, api_version: str, now: str, paths: set[Path]) -> Obj:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields(paths),
    }


def _set_entries(obj: Obj, managed: list[Obj]) -> None:
    obj["metadata"]["managedFields"] = [e for e in managed if e.get("fieldsV1")]


def apply(existing: Obj | None, config: Obj, manager: str, *, force: bool, api_version: str, now: str) -> Obj:
    """The object after applying `config` (not yet stored); raises 409 on ownership conflicts."""
    new_paths = leaf_paths(config)
    if existing is None:
        out = copy.deepcopy(config)
        out.setdefault("metadata", {})
        _set_entries(out, [_entry(manager, "Apply", api_version, now, new_paths)])
        return out
    out = copy.deepcopy(existing)
    managed = entries(out)
    conflicts: list[tuple[str, Path]] = []
    for e in managed:
        if e["manager"] == manager and e.get("operation") == "Apply":
            continue
        for path in from_fields(e.get("fieldsV1") or {}) & new_paths:
            if get(existing, path) != get(config, path):
                conflicts.append((f'"{e["manager"]}" using {e.get("apiVersion", api_version)}', path))
    if conflicts and not force and manager == "kubectl":
        force = all(path in _last_applied_paths(existing) for _, path in conflicts)
    if conflicts and not force:
        shown = [f"conflict with {m}: .{'.'.join(p)}" for m, p in sorted(conflicts)]
        raise APIError(
            409,
            "Conflict",
            f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: {'; '.join(shown)}",
            {
                "causes": [
                    {
                        "reason": "FieldManagerConflict",
                        "message": f"conflict with {m}",
                        "field": "." + ".".join(p),
                    }
                    for m, p in sorted(conflicts)
                ]
            },
        )
    mine = next((e for e in managed if e["manager"] == manager and e.get("operation") == "Apply"), None)
    before = from_fields(mine["fieldsV1"]) if mine else set()
    others: set[Path] = set()
    kept: list[Obj] = []
    for e in managed:
        if e is mine:
            continue
        # forced: the applier takes the conflicting fields; fields set to the same value are shared
        paths = from_fields(e.get("fieldsV1") or {}) - {p for _, p in conflicts}
        others |= paths
        kept.append({**e, "fieldsV1": to_fields(paths)})
    for path in before - new_paths - others:
        _remove(out, path)
    _merge(out, config)
    _set_entries(out, [*kept, _entry(manager, "Apply", api_version, now, new_paths)])
    return out


def _last_applied_paths(obj: Obj) -> set[Path]:
    """Fields of the client-side apply annotation: `kubectl apply --server-side` (manager
    `kubectl`) may take them over without --force-conflicts, as kube-apiserver's last-applied
    manager allows, so switching an object from client-side to server-side apply just works."""
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        config = json.loads(text) if text else None
    except ValueError:
        return set()
    return leaf_paths(config) if isinstance(config, dict) else set()


def record_create(obj: Obj, manager: str, api_version: str, now: str) -> None:
    """A create through the API: `manager` owns every field the request set (operation Update)."""
    obj["metadata"]["managedFields"] = [_entry(manager, "Update", api_version, now, leaf_paths(obj))]


def record_update(old: Obj, new: Obj, manager: str, api_version: str, now: str) -> None:
    """A non-apply write through the API: `manager` takes the fields it changed (operation Update)."""
    managed = entries(old)
    changed = {p for p in leaf_paths(new) | leaf_paths(old) if get(old, p) != get(new, p)}
    if not changed:
        new["metadata"]["managedFields"] = managed
        return
    out, mine = [], None
    for e in managed:
        paths = from_fields(e.get("fieldsV1") or {}) - changed
        if e["manager"] == manager and e.get("operation") == "Update":
            mine = paths
            continue
        out.append({**e, "fieldsV1": to_fields(paths)})
    present = {p for p in changed if get(new, p) is not None}
    out.append(_entry(manager, "Update", api_version, now, (mine or set()) | present))
    new["metadata"]["managedFields"] = [e for e in out if e.get("fieldsV1")]
