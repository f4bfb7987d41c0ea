"""The JSONPath subset CRD printer columns use, evaluated as client-go's `util/jsonpath` does.

A column's `jsonPath` (`.spec.cidr`, `.status.conditions[?(@.type=="Ready")].status`,
`.spec.ranges[0]`, `.metadata.labels['fip\\.io/l2']`) is a chain of steps: a field (`.name` or
`['name']`), an index (`[0]`, `[-1]`), a wildcard (`[*]`, `.*`) or a filter
(`[?(@.path == "value")]`, `==`/`!=`, or `[?(@.path)]` for presence). `find` returns every
value the path reaches (none when a step is missing, as the server's `AllowMissingKeys`);
`text` prints one as the server does for a `string` column (maps and lists as JSON, booleans
lowercase). Anything outside the subset raises `PathError`; the server leaves the cell empty.

Exception tree::

    Exception
     └── PathError      the path is not in the supported subset
"""

from __future__ import annotations

import json
import re
from typing import Any

Step = tuple[str, Any]  # ("field", name) | ("index", n) | ("all", None) | ("filter", (path, op, value))

_FILTER = re.compile(r"^\?\(\s*@((?:\.[\w-]+|\['[^']*'\])*)\s*(?:(==|!=)\s*(.+?))?\s*\)$")


class PathError(ValueError):
    pass


def parse(path: str) -> list[Step]:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[Step] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ".":
            j = i + 1
            while j < len(text) and (text[j].isalnum() or text[j] in "_-"):
                j += 1
            name = text[i + 1 : j]
            if name:
                steps.append(("field", name))
            elif j < len(text) and text[j] == "*":
                steps.append(("all", None))
                j += 1
            elif j < len(text) and text[j] != "[":
                raise PathError(f"unsupported JSONPath {path!r} at {i}")
            i = j
        elif ch == "[":
            j = _close(text, i, path)
            steps.append(_bracket(text[i + 1 : j].strip(), path))
            i = j + 1
        else:
            raise PathError(f"unsupported JSONPath {path!r} at {i}")
    return steps


def _close(text: str, start: int, path: str) -> int:
    depth, quote = 0, ""
    for j in range(start, len(text)):
        c = text[j]
        if quote:
            if c == quote and text[j - 1] != "\\":
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
    raise PathError(f"unclosed [ in JSONPath {path!r}")


def _bracket(inner: str, path: str) -> Step:
    if inner == "*":
        return ("all", None)
    if inner.lstrip("-").isdigit():
        return ("index", int(inner))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return ("field", inner[1:-1].replace("\\.", "."))
    m = _FILTER.match(inner)
    if m:
        sub = parse(m.group(1)) if m.group(1) else []
        value: Any = None
        if m.group(3) is not None:
            raw = m.group(3).strip()
            value = raw[1:-1] if raw[:1] in "'\"" else _literal(raw)
        return ("filter", (sub, m.group(2), value))
    raise PathError(f"unsupported JSONPath {path!r}: [{inner}]")


def _literal(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _apply(step: Step, value: Any) -> list[Any]:
    kind, arg = step
    if kind == "field":
        return [value[arg]] if isinstance(value, dict) and arg in value else []
    if kind == "index":
        if isinstance(value, list) and -len(value) <= arg < len(value):
            return [value[arg]]
        return []
    if kind == "all":
        if isinstance(value, dict):
            return list(value.values())
        return list(value) if isinstance(value, list) else []
    sub, op, want = arg
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        found = _walk(sub, item)
        if op is None:
            keep = bool(found)
        else:
            hit = bool(found) and _same(found[0], want)
            keep = hit if op == "==" else (bool(found) and not hit)
        if keep:
            out.append(item)
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b) if not isinstance(a, bool) else text(a) == str(b)
    return bool(a == b)


def _walk(steps: list[Step], value: Any) -> list[Any]:
    current = [value]
    for step in steps:
        current = [v for c in current for v in _apply(step, c)]
    return current


def find(path: str, obj: Any) -> list[Any]:
    """Every value `path` reaches in `obj` (raises PathError outside the subset)."""
    return _walk(parse(path), obj)


def text(value: Any) -> str:
    """A value printed as client-go's jsonpath prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if value is None:
        return "<nil>"
    return str(value)
