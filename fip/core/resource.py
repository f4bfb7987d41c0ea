"""The custom-resource envelope and the field checks shared by the Subnet and Pool parsers.

A resource arrives as decoded JSON/YAML (`object`): anything may be anywhere. These checks
turn each wrong shape into an `InvalidInput` whose field is the path a person would look for
(`spec.ranges[1]`, `metadata.name`), never a `KeyError` or `TypeError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import TypeVar

from fip.core.errors import InvalidInput
from fip.core.names import check_subdomain

GROUP = "fip.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
_TOP_LEVEL = ("apiVersion", "kind", "metadata", "spec", "status")
INT64_MAX = 2**63 - 1  # the CRD's integers are int64
_Parsed = TypeVar("_Parsed")


def parse_resource(obj: object, kind: str, spec: Callable[[str, Mapping[str, object]], _Parsed]) -> _Parsed:
    """Check the envelope, then read the spec with `spec(name, spec)`. A refusal from the spec
    names the resource (`Subnet "dc1-a": spec.vlan ...`) so a person applying many documents
    knows which one to fix; envelope refusals have no name to give yet."""
    name, body = envelope(obj, kind)
    try:
        return spec(name, body)
    except InvalidInput as err:
        raise err.within(f'{kind} "{name}"') from None


def envelope(obj: object, kind: str) -> tuple[str, Mapping[str, object]]:
    """Check apiVersion, kind and metadata.name; return (name, spec). Status is ignored:
    it is written by the controllers and carries no configuration. Other metadata
    (labels, uid, resourceVersion, ...) is ignored too."""
    top = mapping(kind, obj, f"give a {kind} resource: apiVersion {API_VERSION}, kind {kind}, metadata, spec")
    allowed_keys(top, "", _TOP_LEVEL, kind)
    if top.get("apiVersion") != API_VERSION:
        raise InvalidInput("apiVersion", top.get("apiVersion"), "is not this API", f"write {API_VERSION}")
    if top.get("kind") != kind:
        raise InvalidInput("kind", top.get("kind"), f"is not {kind}", f"write kind: {kind}")
    meta = mapping("metadata", top.get("metadata"), "give metadata with a name")
    name = check_subdomain("metadata.name", meta.get("name"))
    if "spec" not in top:
        raise InvalidInput("spec", None, "is missing", f"give the {kind} spec")
    return name, mapping("spec", top["spec"], f"give the {kind} spec as a mapping")


def mapping(field: str, value: object, fix: str) -> Mapping[str, object]:
    """A mapping with string keys (a JSON object)."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInput(field, value, "is not a mapping", fix)
    return value


def allowed_keys(obj: Mapping[str, object], path: str, allowed: tuple[str, ...], kind: str) -> None:
    """Reject unknown keys: a typo (`nodeSelecter`) must not silently mean "no nodes"."""
    for key in obj:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise InvalidInput(
                path + key,
                obj[key],
                f"is not a {kind} field",
                f"{hint}known fields are {', '.join(allowed)}",
            )


def required(obj: Mapping[str, object], path: str, key: str, fix: str) -> object:
    if key not in obj:
        raise InvalidInput(path + key, None, "is missing", fix)
    return obj[key]


def sequence(field: str, value: object, max_items: int) -> list[object]:
    """A JSON array of at most `max_items` elements."""
    if not isinstance(value, list | tuple):
        raise InvalidInput(field, value, "is not a list", "give a list, e.g. [a, b]")
    if len(value) > max_items:
        raise InvalidInput(
            field,
            f"{len(value)} items",
            f"has more than {max_items} items",
            f"give at most {max_items}; use ranges to cover many addresses",
        )
    return list(value)


def integer(field: str, value: object, low: int, high: int, fix: str) -> int:
    """A JSON integer in [low, high]. `true` is not 1 and `2.0` is not 2."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(field, value, f"is not an integer in {low}..{high}", fix)
    return value


def unique(field: str, raw: list[object], parsed: list[object]) -> None:
    """Reject repeated entries (compared after parsing): the CRD declares these lists as sets."""
    seen: set[object] = set()
    for i, item in enumerate(parsed):
        if item in seen:
            raise InvalidInput(f"{field}[{i}]", raw[i], "is listed twice", "list each entry once")
        seen.add(item)
