"""URL → what is asked: group, version, resource type, namespace, name, subresource, verb."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from lab.apiserver.resources import Registry, ResourceType
from lab.apiserver.status import method_not_allowed, route_not_found

TRUE = {"true", "1", "yes"}


@dataclass(slots=True)
class Route:
    rt: ResourceType
    namespace: str | None
    name: str
    subresource: str
    verb: str
    query: dict[str, str]

    @property
    def fault_resource(self) -> str:
        return f"{self.rt.plural}/{self.subresource}" if self.subresource else self.rt.plural

    def flag(self, key: str) -> bool:
        """Bool query parameter; the 36.x client sends `True`, newer ones `true`."""
        return self.query.get(key, "").lower() in TRUE


def split(target: str) -> tuple[list[str], dict[str, str]]:
    parts = urlsplit(target)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    segs = [unquote(s) for s in parts.path.split("/") if s]
    return segs, query


def resolve(  # noqa: PLR0912
    registry: Registry, method: str, segs: list[str], query: dict[str, str]
) -> Route | None:
    """A resource route, or None when `segs` is not under /api/v1 or /apis/G/V (404 raised for unknown)."""
    if segs[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        group, version, rest = segs[1], segs[2], segs[3:]
    else:
        return None
    if not rest:
        return None
    watch_path = False
    if rest[0] == "watch":
        watch_path, rest = True, rest[1:]
    ns: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise route_not_found()
    plural, name = rest[0], rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if plural == "bindings" and not group and ns and not name and method == "POST":
        rt = registry.route("", "v1", "pods")
        assert rt is not None
        return Route(rt, ns, "", "binding", "create", query)
    rt = registry.route(group, version, plural)
    if rt is None or (ns is not None and not rt.namespaced):
        raise route_not_found()
    if sub and sub not in _subresources(rt):
        raise route_not_found()
    verb = _verb(method, bool(name), watch_path or query.get("watch", "").lower() in TRUE)
    if verb is None:
        raise method_not_allowed(method, plural)
    if rt.namespaced and ns is None and verb not in ("list", "watch"):
        raise route_not_found()
    if verb not in rt.verbs:
        raise method_not_allowed(method, plural)
    if (sub in ("binding", "eviction", "token") and verb != "create") or (
        sub and verb not in ("get", "update", "patch", "create")
    ):
        raise method_not_allowed(method, f"{plural}/{sub}")
    return Route(rt, ns, name, sub, verb, query)


def _subresources(rt: ResourceType) -> set[str]:
    subs = set()
    if rt.has_status:
        subs.add("status")
    if rt.scale is not None:
        subs.add("scale")
    if rt.kind == "Pod":
        subs.update(("binding", "eviction"))
    if rt.kind == "ServiceAccount":
        subs.add("token")
    return subs


def _verb(method: str, named: bool, watch: bool) -> str | None:
    if method == "GET":
        if watch:
            return "watch"
        return "get" if named else "list"
    if method == "POST":
        return "create"
    if named:
        return {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
    return "deletecollection" if method == "DELETE" else None
