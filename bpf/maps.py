"""Services and EndpointSlices -> the entries the BPF maps should hold (pure: no I/O, no bcc).

`desired(services, slices, ids=..., limits=...)` turns API objects into a `MapState`:

- `services`: one frontend per Service port, (ClusterIP, port, protocol) -> (id, backend count,
  ClientIP affinity timeout). A Service with no ready endpoint still gets its frontend with count
  0: the datapath then refuses its connections instead of sending them on to the VIP.
- `backends`: (id, slot 1..count) -> (endpoint IP, endpoint port), slots in sorted order.
- `revnat`: id -> (ClusterIP, port), what replies must show as their source.

Only *ready* endpoints are backends (a missing `ready` counts as ready, as in Kubernetes);
terminating ones are left out, so they get no new connections while the connections they already
have go on (the datapath's conntrack remembers their backend). Frontend ids are stable: a frontend
already in the maps keeps its id (`ids`), so established connections are not re-balanced by a
re-sync; new frontends take the lowest free ids. What cannot be served becomes a `Problem` (one
log line and status each) and never stops the other Services: IPv6-only or headless Services,
unsupported protocols, duplicate ports, non-IPv4 slices, more frontends or backends than the maps
hold (frontends already loaded keep their place; the rest are left out in sorted order).

`plan(current, want)` is the difference as ordered steps: backends and reverse NAT entries are
written before the frontends that use them, and removed only after those frontends shrank or
went, so the datapath never picks a slot that is not there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import AddressValueError, IPv4Address
from typing import Any, Literal

Obj = dict[str, Any]
MapName = Literal["services", "backends", "revnat"]
PROTOCOLS = {"TCP": 6, "UDP": 17}
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds, as kube-proxy


@dataclass(frozen=True, order=True, slots=True)
class Frontend:
    vip: IPv4Address
    port: int
    proto: str  # "TCP" | "UDP"


@dataclass(frozen=True, slots=True)
class FrontendEntry:
    id: int
    count: int
    affinity_timeout: int = 0  # seconds; 0 = none


@dataclass(frozen=True, order=True, slots=True)
class Address:
    ip: IPv4Address
    port: int


@dataclass(frozen=True, slots=True)
class Limits:
    services: int = 16384
    backends: int = 65536


@dataclass(slots=True)
class MapState:
    services: dict[Frontend, FrontendEntry] = field(default_factory=dict)
    backends: dict[tuple[int, int], Address] = field(default_factory=dict)
    revnat: dict[int, Address] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Problem:
    service: str  # "namespace/name"
    message: str

    def __str__(self) -> str:
        return f"service {self.service}: {self.message}"


@dataclass(frozen=True, slots=True)
class Desired:
    state: MapState
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Step:
    map: MapName
    op: Literal["put", "delete"]
    key: Any
    value: Any = None


def desired(
    services: Iterable[Obj], slices: Iterable[Obj], *, ids: Mapping[Frontend, int], limits: Limits
) -> Desired:
    problems: list[Problem] = []
    endpoints = _ready_endpoints(slices, problems)
    wanted: dict[Frontend, tuple[str, list[Address], int]] = {}
    for svc in services:
        _frontends(svc, endpoints, wanted, problems)
    state = MapState()
    used = {i for fe, i in ids.items() if fe in wanted}
    fresh = (i for i in range(1, 1 << 31) if i not in used)
    order = sorted(wanted, key=lambda fe: (fe not in ids, fe))
    for fe in order:
        who, backends, affinity = wanted[fe]
        if len(state.services) >= limits.services:
            full = f"the services map holds {limits.services} frontends (raise --bpf-services-max)"
            problems.append(Problem(who, f"{_show(fe)} not loaded: {full}"))
            continue
        if len(state.backends) + len(backends) > limits.backends:
            problems.append(Problem(who, f"{_show(fe)} not loaded: its {len(backends)} backends do not "
                                         f"fit the backends map ({limits.backends})"))  # fmt: skip
            continue
        fid = ids[fe] if fe in ids else next(fresh)
        state.services[fe] = FrontendEntry(fid, len(backends), affinity)
        state.revnat[fid] = Address(fe.vip, fe.port)
        for slot, backend in enumerate(backends, 1):
            state.backends[(fid, slot)] = backend
    return Desired(state, tuple(problems))


def plan(current: MapState, want: MapState) -> list[Step]:
    steps: list[Step] = []
    steps += _puts("backends", current.backends, want.backends)
    steps += _puts("revnat", current.revnat, want.revnat)
    steps += _puts("services", current.services, want.services)
    steps += [Step("services", "delete", k) for k in sorted(current.services.keys() - want.services.keys())]
    steps += [Step("backends", "delete", k) for k in sorted(current.backends.keys() - want.backends.keys())]
    steps += [Step("revnat", "delete", k) for k in sorted(current.revnat.keys() - want.revnat.keys())]
    return steps


def _puts(name: MapName, have: Mapping[Any, Any], want: Mapping[Any, Any]) -> list[Step]:
    return [Step(name, "put", k, v) for k, v in sorted(want.items(), key=_by_key) if have.get(k) != v]


def _by_key(item: tuple[Any, Any]) -> Any:
    return item[0]


def _show(fe: Frontend) -> str:
    return f"{fe.vip}:{fe.port}/{fe.proto}"


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or '?'}"


EndpointIndex = dict[tuple[str, str, str], set[Address]]  # (ns/service, port name, proto) -> ready


def _ready_endpoints(slices: Iterable[Obj], problems: list[Problem]) -> EndpointIndex:
    index: EndpointIndex = {}
    for es in slices:
        meta = es.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not owner:
            continue
        svc = f"{meta.get('namespace') or 'default'}/{owner}"
        if es.get("addressType", "IPv4") != "IPv4":
            problems.append(Problem(svc, f"EndpointSlice {meta.get('name')}: addressType "
                                         f"{es.get('addressType')} is not served (IPv4 only)"))  # fmt: skip
            continue
        ips = [_ip(ep) for ep in es.get("endpoints") or [] if _ready(ep)]
        for port in es.get("ports") or []:
            number = port.get("port")
            if not isinstance(number, int) or not 0 < number < 65536:
                continue
            slot = index.setdefault((svc, port.get("name") or "", port.get("protocol") or "TCP"), set())
            slot.update(Address(ip, number) for ip in ips if ip is not None)
    return index


def _ready(ep: Obj) -> bool:
    cond = ep.get("conditions") or {}
    return cond.get("ready") is not False and cond.get("terminating") is not True


def _ip(ep: Obj) -> IPv4Address | None:
    addresses = ep.get("addresses") or []
    try:
        return IPv4Address(addresses[0]) if addresses else None
    except AddressValueError:
        return None


def _frontends(
    svc: Obj,
    endpoints: EndpointIndex,
    wanted: dict[Frontend, tuple[str, list[Address], int]],
    problems: list[Problem],
) -> None:
    who, spec = _key(svc), svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return
    ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]
    if not ips:
        return  # headless: DNS only, nothing to balance
    vips = [IPv4Address(ip) for ip in ips if _is_v4(ip)]
    if not vips:
        problems.append(Problem(who, f"ClusterIP {', '.join(ips)} is not IPv4; only IPv4 is served"))
        return
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        affinity = int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
    seen: set[tuple[int, str]] = set()
    for port in spec.get("ports") or []:
        number, proto = port.get("port"), port.get("protocol") or "TCP"
        if proto not in PROTOCOLS:
            problems.append(Problem(who, f"port {number}/{proto}: protocol {proto} is not served "
                                         "(TCP and UDP only)"))  # fmt: skip
            continue
        if not isinstance(number, int) or not 0 < number < 65536:
            problems.append(Problem(who, f"port {number!r} is not a port number (1-65535)"))
            continue
        if (number, proto) in seen:
            problems.append(Problem(who, f"port {number}/{proto} is listed twice; the first one is served"))
            continue
        seen.add((number, proto))
        backends = sorted(endpoints.get((who, port.get("name") or "", proto), ()))
        if not backends:
            problems.append(Problem(who, f"port {number}/{proto} has no ready endpoints; its "
                                         "connections are refused"))  # fmt: skip
        for vip in vips:
            wanted[Frontend(vip, number, proto)] = (who, backends, affinity)


def _is_v4(ip: str) -> bool:
    try:
        IPv4Address(ip)
    except AddressValueError:
        return False
    return True
