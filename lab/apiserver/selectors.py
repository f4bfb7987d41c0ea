"""Label and field selectors, parsed and matched as kube-apiserver does.

Label selectors: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, comma-joined
(all must hold). Field selectors: `f=v`, `f==v`, `f!=v` over the type's selectable fields; a
missing field reads as "" and a bool as "true"/"false", as in `ToSelectableFields`. A selector
the real server cannot parse is a 400 here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lab.apiserver.status import APIError, bad_request

Obj = dict[str, Any]
Matcher = Callable[[Obj], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_CMP_RE = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


def _label_req(req: str) -> Callable[[dict[str, str]], bool]:
    m = _CMP_RE.match(req)
    if m:
        key, op, val = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != val
        return lambda labels: labels.get(key) == val
    m = _SET_RE.match(req)
    if m:
        neg, key, op, values = m.groups()
        if op is None:
            if neg:
                return lambda labels: key not in labels
            return lambda labels: key in labels
        if neg:
            raise bad_request(f"unable to parse requirement: {req!r}")
        vals = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in vals
        return lambda labels: labels.get(key) not in vals
    raise bad_request(
        f"unable to parse requirement: found '{req.strip()}', expected: in, notin, =, ==, !=, gt, lt"
    )


def label_matcher(text: str | None) -> Matcher | None:
    if not text or not text.strip():
        return None
    reqs = [_label_req(r) for r in _split(text)]

    def match(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in reqs)

    return match


def field_value(obj: Obj, path: str) -> str:
    cur: Any = obj
    if path == "status.podIP":
        ips = (obj.get("status") or {}).get("podIPs") or []
        if ips:
            return str(ips[0].get("ip", ""))
    if path == "source":
        return str((obj.get("source") or {}).get("component", ""))
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_matcher(text: str | None, allowed: tuple[str, ...], kind: str) -> Matcher | None:
    if not text or not text.strip():
        return None
    reqs: list[tuple[str, bool, str]] = []
    for req in text.split(","):
        if not req.strip():
            continue
        m = re.match(r"^\s*([^=!\s]+)\s*(==|!=|=)\s*(.*?)\s*$", req)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{req}'")
        path, op, val = m.groups()
        if path not in allowed:
            raise APIError(400, "BadRequest", f"field label not supported: {path}")
        reqs.append((path, op == "!=", val))

    def match(obj: Obj) -> bool:
        return all((field_value(obj, p) != v) if neg else (field_value(obj, p) == v) for p, neg, v in reqs)

    return match


def combine(*matchers: Matcher | None) -> Matcher | None:
    ms = [m for m in matchers if m is not None]
    if not ms:
        return None
    if len(ms) == 1:
        return ms[0]
    return lambda obj: all(m(obj) for m in ms)


def labels_text(labels: Any) -> str:
    """`labels.FormatLabels`: `k=v,k2=v2` sorted by key, `<none>` when empty (printer cells)."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def label_selector(selector: Any, none: str = "<none>") -> str:
    """A `metav1.LabelSelector` as `selector.String()`: requirements sorted by key."""
    if not isinstance(selector, dict):
        return none
    reqs: list[tuple[str, str]] = []
    for k, v in (selector.get("matchLabels") or {}).items():
        reqs.append((k, f"{k}={v}"))
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key", ""), e.get("operator", ""), sorted(e.get("values") or [])
        shown = {
            "In": f"{key} in ({','.join(values)})",
            "NotIn": f"{key} notin ({','.join(values)})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op, "<error>")
        reqs.append((key, shown))
    return ",".join(s for _, s in sorted(reqs)) or none
