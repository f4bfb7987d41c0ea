"""The three patch types kube-apiserver accepts, as pure functions over JSON values.

- JSON merge patch (RFC 7386): maps merge, `null` deletes, lists replace.
- Strategic merge patch: merge patch plus the list rules of the built-in types fip touches
  (`containers`/`volumes`/`env`... by `name`, `ownerReferences` by `uid`, `conditions` by `type`,
  `finalizers` as a set) and the `$patch: delete|replace`, `$deleteFromPrimitiveList/…`,
  `$setElementOrder/…`, `$retainKeys` directives. Other lists replace, as without a patch strategy.
- JSON patch (RFC 6902): add, remove, replace, move, copy, test.

Inputs are never mutated; callers get a new value. `PatchError.bad_format` tells a patch that
could not be decoded (400 on the real server) from one that does not apply (422).

Exception tree::

    Exception
     └── PatchError       message; bad_format=True for undecodable patches
"""

from __future__ import annotations

import copy
from typing import Any

JSON = Any


class PatchError(Exception):
    def __init__(self, message: str, bad_format: bool = False) -> None:
        super().__init__(message)
        self.bad_format = bad_format


def merge_patch(target: JSON, patch: JSON) -> JSON:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# Field name → merge key for lists with patchStrategy "merge" (k8s.io/api struct tags).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "podIPs": "ip",
    "hostIPs": "ip",
    "addresses": "type",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
    "ports": "containerPort",
}
SET_LISTS = {"finalizers"}


def merge_key(field: str, items: list[Any]) -> str | None:
    """The strategic-merge key of a list field of a built-in type (None: replaced whole)."""
    key = MERGE_KEYS.get(field)
    if field == "ports" and any(
        isinstance(i, dict) and "port" in i and "containerPort" not in i for i in items
    ):
        return "port"
    return key


def strategic_merge_patch(target: JSON, patch: JSON) -> JSON:  # noqa: PLR0912
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(out.get(name), list) and isinstance(v, list):
                out[name] = [x for x in out[name] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = _merge_list(k, out[k], v)
        elif isinstance(v, dict):
            merged = strategic_merge_patch(out.get(k), v)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        else:
            out[k] = copy.deepcopy(v)
    for k, order in patch.items():
        if (
            k.startswith("$setElementOrder/")
            and isinstance(order, list)
            and isinstance(out.get(k.split("/", 1)[1]), list)
        ):
            field = k.split("/", 1)[1]
            out[field] = _reorder(field, out[field], order)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _reorder(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    """`$setElementOrder`: the listed elements first, in that order; the rest keep theirs, after."""
    key = merge_key(field, items)

    def ident(x: Any) -> Any:
        return x.get(key) if key is not None and isinstance(x, dict) else x

    wanted = [ident(o) for o in order]
    first = [next(i for i in items if ident(i) == w) for w in wanted if any(ident(i) == w for i in items)]
    return first + [i for i in items if ident(i) not in wanted]


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    if field in SET_LISTS:
        return current + [x for x in patch if x not in current]
    key = merge_key(field, current + patch)
    if key is None or not all(isinstance(x, dict) for x in current + patch):
        if len(patch) == 1 and isinstance(patch[0], dict) and patch[0].get("$patch") == "replace":
            return []
        return copy.deepcopy(patch)
    out = list(current)
    for item in patch:
        if item.get("$patch") == "replace" and key not in item:
            return [copy.deepcopy(x) for x in patch if x.get("$patch") != "replace"]
        idx = next((i for i, x in enumerate(out) if x.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append({k: copy.deepcopy(v) for k, v in item.items() if k != "$patch"})
        else:
            out[idx] = strategic_merge_patch(out[idx], item)
    return out


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path and not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}", bad_format=True)
    return [_unescape(t) for t in path.split("/")[1:]] if path else []


def _descend(doc: JSON, tokens: list[str], path: str) -> JSON:
    """The value `tokens` lead to; every token must name an existing key or index, else the
    error names the whole `path` as the patch wrote it (as kube-apiserver's message does)."""
    cur = doc
    for t in tokens:
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list) and t.isdigit() and int(t) < len(cur):
            cur = cur[int(t)]
        else:
            raise PatchError(f"doc is missing path: {path!r}: missing value")
    return cur


def _parent(doc: JSON, tokens: list[str], path: str) -> tuple[Any, str]:
    return _descend(doc, tokens[:-1], path), tokens[-1]


def _get(doc: JSON, path: str) -> JSON:
    return _descend(doc, _pointer(path), path)


def _add(doc: JSON, path: str, value: JSON) -> JSON:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise PatchError(f"add operation does not apply: doc is missing path: {path!r}")
    else:
        raise PatchError(f"add operation does not apply: doc is missing path: {path!r}")
    return doc


def _remove(doc: JSON, path: str) -> tuple[JSON, JSON]:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("unable to remove the whole document")
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict) and last in parent:
        return doc, parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return doc, parent.pop(int(last))
    raise PatchError(f"remove operation does not apply: doc is missing path: {path!r}: missing value")


def json_patch(target: JSON, ops: JSON) -> JSON:  # noqa: PLR0912
    if not isinstance(ops, list):
        raise PatchError(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch", bad_format=True
        )
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError(f"invalid operation {op!r}", bad_format=True)
        kind, path, source = op["op"], str(op.get("path", "")), str(op.get("from", ""))
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"missing value for {kind} operation", bad_format=True)
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            if _pointer(path):
                doc, _ = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "move":
            doc, value = _remove(doc, source)
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, source)))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}", bad_format=True)
    return doc
