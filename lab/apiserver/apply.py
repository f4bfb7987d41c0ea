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
in process (`api.storage`) record nothing. Lists of built-in types that strategic merge keys
(`containers` by `name`, `env` by `name`, `conditions` by `type` ...) are owned item by item
(`k:{"name":"app"}` in FieldsV1); other lists, and every list of a custom resource, are atomic.
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

import copy
import json
from typing import Any

from lab.apiserver.patch import merge_key
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


def _list_key(field: str, items: Any, keyed: bool) -> str | None:
    """The key a list of a built-in type is merged by (`containers` by `name` ...), or None:
    atomic (custom resources, scalars, items without the key)."""
    if not keyed or not isinstance(items, list) or not items:
        return None
    key = merge_key(field, items)
    if key is None or not all(isinstance(i, dict) and key in i for i in items):
        return None
    return key


def key_segment(key: str, value: Any) -> str:
    """A list item's path segment, as FieldsV1 spells it: `k:{"name":"app"}`."""
    return "k:" + json.dumps({key: value}, separators=(",", ":"))


def _parse_segment(part: str) -> tuple[str, Any]:
    ((key, value),) = json.loads(part[2:]).items()
    return key, value


def leaf_paths(obj: Any, prefix: Path = (), keyed: bool = True) -> set[Path]:
    out: set[Path] = set()
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            if not prefix and key in ("apiVersion", "kind", "status"):
                continue
            if prefix == ("metadata",) and key in SKIP_META:
                continue
            lkey = _list_key(key, value, keyed)
            if lkey is not None:
                for item in value:
                    out |= leaf_paths(item, (*prefix, key, key_segment(lkey, item[lkey])), keyed)
            else:
                out |= leaf_paths(value, (*prefix, key), keyed)
    elif prefix:
        out.add(prefix)
    return out


def to_fields(paths: set[Path]) -> Obj:
    root: Obj = {}
    for path in sorted(paths):
        node = root
        for part in path:
            if part.startswith("k:"):
                node = node.setdefault(part, {})
                node.setdefault(".", {})
            else:
                node = node.setdefault(f"f:{part}", {})
    return root


def from_fields(fields: Obj, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in fields.items():
        if key.startswith("f:"):
            path = (*prefix, key[2:])
        elif key.startswith("k:"):
            path = (*prefix, key)
        else:
            continue
        inner = {k: v for k, v in sub.items() if k != "."} if isinstance(sub, dict) else {}
        out |= from_fields(inner, path) if inner else {path}
    return out


def shown(path: Path) -> str:
    """A path as conflict messages print it: `.spec.template.spec.containers[name="app"].image`."""
    out = ""
    for part in path:
        if part.startswith("k:"):
            key, value = _parse_segment(part)
            out += f"[{key}={json.dumps(value)}]"
        else:
            out += f".{part}"
    return out


def _step(obj: Any, part: str) -> Any:
    if part.startswith("k:"):
        if not isinstance(obj, list):
            return None
        key, value = _parse_segment(part)
        return next((i for i in obj if isinstance(i, dict) and i.get(key) == value), None)
    return obj.get(part) if isinstance(obj, dict) else None


def get(obj: Any, path: Path) -> Any:
    for part in path:
        obj = _step(obj, part)
        if obj is None:
            return None
    return obj


def _remove(obj: Obj, path: Path) -> None:
    parents: list[Any] = [obj]
    for part in path[:-1]:
        nxt = _step(parents[-1], part)
        if not isinstance(nxt, (dict, list)):
            return
        parents.append(nxt)
    last = path[-1]
    if len(path) >= 2 and path[-2].startswith("k:") and _parse_segment(path[-2])[0] == last:
        last, parents = path[-2], parents[:-1]  # the item's key itself: the whole item goes
        path = path[:-1]
    container = parents[-1]
    if isinstance(container, dict):
        container.pop(last, None)
    elif isinstance(container, list):
        item = _step(container, last)
        if item is not None:
            container.remove(item)
    for depth in range(len(parents) - 1, 0, -1):  # drop maps and lists left empty
        if not parents[depth]:
            holder, part = parents[depth - 1], path[depth - 1]
            if isinstance(holder, dict):
                holder.pop(part, None)
            elif isinstance(holder, list):
                holder.remove(parents[depth])


def _merge(target: Obj, config: Obj, keyed: bool = True) -> None:
    for key, value in config.items():
        lkey = _list_key(key, value, keyed)
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge(current, value, keyed)
        elif lkey is not None and isinstance(current, list) and _list_key(key, current, keyed) == lkey:
            for item in value:
                twin = next((i for i in current if i.get(lkey) == item[lkey]), None)
                if twin is None:
                    current.append(copy.deepcopy(item))
                else:
                    _merge(twin, item, keyed)
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


def apply(
    existing: Obj | None,
    config: Obj,
    manager: str,
    *,
    force: bool,
    api_version: str,
    now: str,
    keyed: bool = True,
) -> Obj:
    """The object after applying `config` (not yet stored); raises 409 on ownership conflicts."""
    new_paths = leaf_paths(config, keyed=keyed)
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
        force = all(path in _last_applied_paths(existing, keyed) for _, path in conflicts)
    if conflicts and not force:
        listed = [f"conflict with {m}: {shown(p)}" for m, p in sorted(conflicts)]
        raise APIError(
            409,
            "Conflict",
            f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: {'; '.join(listed)}",
            {
                "causes": [
                    {
                        "reason": "FieldManagerConflict",
                        "message": f"conflict with {m}",
                        "field": shown(p),
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
    _merge(out, config, keyed)
    _set_entries(out, [*kept, _entry(manager, "Apply", api_version, now, new_paths)])
    return out


def _last_applied_paths(obj: Obj, keyed: bool) -> set[Path]:
    """Fields of the client-side apply annotation: `kubectl apply --server-side` (manager
    `kubectl`) may take them over without --force-conflicts, as kube-apiserver's last-applied
    manager allows, so switching an object from client-side to server-side apply just works."""
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        config = json.loads(text) if text else None
    except ValueError:
        return set()
    return leaf_paths(config, keyed=keyed) if isinstance(config, dict) else set()


def record_create(obj: Obj, manager: str, api_version: str, now: str, *, keyed: bool = True) -> None:
    """A create through the API: `manager` owns every field the request set (operation Update)."""
    obj["metadata"]["managedFields"] = [
        _entry(manager, "Update", api_version, now, leaf_paths(obj, keyed=keyed))
    ]


def record_update(
    old: Obj, new: Obj, manager: str, api_version: str, now: str, *, keyed: bool = True
) -> None:
    """A non-apply write through the API: `manager` takes the fields it changed (operation Update)."""
    managed = entries(old)
    changed = {
        p for p in leaf_paths(new, keyed=keyed) | leaf_paths(old, keyed=keyed) if get(old, p) != get(new, p)
    }
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
