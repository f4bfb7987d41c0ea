"""The extender wire types (k8s.io/kube-scheduler/extender/v1), encoded and decoded as Go does.

Those Go structs have no JSON tags, so `encoding/json` writes the field names as they are
(`Pod`, `Nodes`, `NodeNames`), `null` for nil pointers, HTML-escapes `<`, `>` and `&` inside
strings, and reads replies by matching keys case-insensitively (every matching key assigns,
the last one wins). Decoding is strict about types the way Go is: `Score` is an int64, so
`7.0`, `"7"` or `1e1` fail the whole reply. Embedded API objects are the typed objects of the
scheduler's informer cache, which carry no `kind`/`apiVersion`; a `v1.NodeList` marshals as
`{"metadata":{},"items":[...]}`.

Errors: `WireError` (a ValueError), phrased like Go's decoder errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_INT64 = (-(2**63), 2**63 - 1)


class WireError(ValueError):
    """A reply the Go decoder would refuse."""


def go_json(value: object) -> bytes:
    """json.Marshal: compact, HTML-safe escapes, non-ASCII left as UTF-8."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text.encode()


def typed(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An API object as the Go informer cache holds it: no kind/apiVersion."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def extender_args(
    pod: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]], node_cache_capable: bool
) -> bytes:
    """ExtenderArgs for filter and prioritize: names only when nodeCacheCapable, else a NodeList."""
    if node_cache_capable:
        body: dict[str, Any] = {
            "Pod": typed(pod),
            "Nodes": None,
            "NodeNames": [n["metadata"]["name"] for n in nodes],
        }
    else:
        body = {
            "Pod": typed(pod),
            "Nodes": {"metadata": {}, "items": [typed(n) for n in nodes]},
            "NodeNames": None,
        }
    return go_json(body)


def binding_args(pod_name: str, namespace: str, uid: str, node: str) -> bytes:
    return go_json({"PodName": pod_name, "PodNamespace": namespace, "PodUID": uid, "Node": node})


@dataclass(frozen=True, slots=True)
class FilterResult:
    nodes: list[dict[str, Any]] | None
    node_names: list[str] | None
    failed: dict[str, str]
    failed_unresolvable: dict[str, str]
    error: str


@dataclass(frozen=True, slots=True)
class HostPriority:
    host: str
    score: int


def decode_value(body: bytes) -> object:
    """json.NewDecoder(body).Decode: the first JSON value; trailing bytes are ignored; an empty
    body is EOF. Duplicate keys are kept as pairs so field matching can be Go's."""
    text = body.decode("utf-8", errors="replace").lstrip(" \t\r\n")
    if not text:
        raise WireError("EOF")
    decoder = json.JSONDecoder(object_pairs_hook=_Pairs, parse_float=_Float, parse_constant=_reject)
    try:
        value, _ = decoder.raw_decode(text)
    except json.JSONDecodeError as e:
        raise WireError(f"invalid character in JSON at offset {e.pos}: {e.msg}") from e
    return value


def filter_result(body: bytes) -> FilterResult:
    fields = _struct(
        decode_value(body), ("Nodes", "NodeNames", "FailedNodes", "FailedAndUnresolvableNodes", "Error")
    )
    names = fields.get("NodeNames")
    nodes = fields.get("Nodes")
    return FilterResult(
        nodes=None if nodes is None else _node_list(nodes),
        node_names=None if names is None else [_string("NodeNames", n) for n in _array("NodeNames", names)],
        failed=_string_map("FailedNodes", fields.get("FailedNodes")),
        failed_unresolvable=_string_map(
            "FailedAndUnresolvableNodes", fields.get("FailedAndUnresolvableNodes")
        ),
        error=_string("Error", fields.get("Error")),
    )


def priority_list(body: bytes) -> list[HostPriority]:
    value = decode_value(body)
    if value is None:
        return []
    out = []
    for item in _array("HostPriorityList", value):
        fields = _struct(item, ("Host", "Score"))
        out.append(HostPriority(_string("Host", fields.get("Host")), _int64("Score", fields.get("Score"))))
    return out


def binding_result(body: bytes) -> str:
    """The Error field of ExtenderBindingResult ("" = bound)."""
    return _string("Error", _struct(decode_value(body), ("Error",)).get("Error"))


class _Pairs(list[tuple[str, Any]]):
    """A JSON object with its keys in document order, duplicates kept."""


class _Float(str):
    """A JSON number written with a fraction or exponent: Go refuses it for integer fields."""


def _reject(name: str) -> object:
    raise WireError(f"invalid character {name[0]!r} looking for beginning of value")


def _struct(value: object, names: tuple[str, ...]) -> dict[str, Any]:
    """Go's field matching: each key sets the field it names exactly, else the field it names
    case-insensitively; later keys overwrite earlier ones; unknown keys are ignored."""
    if value is None:
        return {}
    if not isinstance(value, _Pairs):
        raise WireError(f"json: cannot unmarshal {_kind(value)} into Go value of type struct")
    out: dict[str, Any] = {}
    for key, item in value:
        name = key if key in names else next((n for n in names if n.casefold() == key.casefold()), None)
        if name is not None:
            out[name] = item
    return out


def _kind(value: object) -> str:
    if isinstance(value, _Pairs):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str) and not isinstance(value, _Float):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def _string(field: str, value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or isinstance(value, _Float):
        raise WireError(f"json: cannot unmarshal {_kind(value)} into Go struct field .{field} of type string")
    return value


def _int64(field: str, value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, _Float):
        raise WireError(
            f"json: cannot unmarshal number {value} into Go struct field HostPriority.{field} of type int64"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(
            f"json: cannot unmarshal {_kind(value)} into Go struct field HostPriority.{field} of type int64"
        )
    if not _INT64[0] <= value <= _INT64[1]:
        raise WireError(
            f"json: cannot unmarshal number {value} into Go struct field HostPriority.{field} of type int64"
        )
    return value


def _array(field: str, value: object) -> list[Any]:
    if not isinstance(value, list) or isinstance(value, _Pairs):
        raise WireError(f"json: cannot unmarshal {_kind(value)} into Go value {field} of type slice")
    return value


def _string_map(field: str, value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, _Pairs):
        raise WireError(f"json: cannot unmarshal {_kind(value)} into Go struct field .{field} of type map")
    return {k: _string(field, v) for k, v in value}


def _node_list(value: object) -> list[dict[str, Any]]:
    items = _struct(value, ("items",)).get("items")
    return [] if items is None else [_plain(i) for i in _array("Nodes.items", items)]


def _plain(value: object) -> Any:
    """Back to ordinary JSON values (API objects are matched by their own camelCase rules)."""
    if isinstance(value, _Pairs):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, _Float):
        return float(value)
    return value
