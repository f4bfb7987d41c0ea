"""The lab cluster's configuration file (YAML): parsed and checked before anything starts.

    kind: LabCluster                 # apiVersion lab.fip.io/v1 (both optional)
    serviceCIDR: 10.96.0.0/12        # default; routed via the pods' gateway
    domains:                         # L2 domains: one switch (namespace) each
      a:                             # a DNS label of at most 12 characters
        nodeCIDR: 192.168.1.0/24     # the nodes' InternalIPs (default 192.168.<n>.0/24); .1 = router
        nodes:                       # a count (a-1, a-2, ...), or names / {name, mode}
          - a1
          - {name: a3, mode: macvlan}    # mode: bridge (default) or macvlan
        subnets:                     # the fip Subnets of this domain (Subnet spec fields)
          - name: a
            cidr: 10.1.0.0/24
            gateway: 10.1.0.1        # default: the first address
            vlan: 0                  # default 0; another VLAN is another bridge of the switch
            ranges: [10.1.0.10-10.1.0.200]      # excluded / reserved as in a Subnet
            legacy:                  # a legacy host in this subnet (its address is excluded)
              address: 10.1.0.250
              port: 5000             # default 5000
              allow: [10.1.0.20]     # the fixed IPs it accepts; everything else is denied
    pools:                           # fip Pools (Pool spec fields + name)
      - {name: db, subnet: a, size: 10, namespaces: [db]}
    redis: standalone                # or sentinel: a primary, a replica and a Sentinel (failover)

Every node of a domain carries every VLAN of it; each Subnet selects its domain's nodes by the
label `fip.io/l2=<domain>`. Only IPv4 is built. `load()` returns a `LabConfig` or raises one
`InvalidInput` naming the file, the field path, the value and the fix: unknown keys, overlapping
networks (subnets, node CIDRs, the service CIDR), more nodes than a node CIDR holds, two subnets
on one VLAN of a domain, a legacy host outside its subnet, a Pool naming an unknown subnet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import yaml

from fip.core.addresses import parse_ip, parse_network
from fip.core.errors import InvalidInput
from fip.core.names import check_label, check_subdomain
from fip.core.resource import allowed_keys, integer, mapping, sequence
from fip.core.spec import check_pool, parse_pool, parse_subnet
from fip.core.subnet import IPNetwork, Subnet

API_VERSION = "lab.fip.io/v1"
KIND = "LabCluster"
L2_LABEL = "fip.io/l2"
MODES = ("bridge", "macvlan")
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
MAX_NODES = 64
_TOP = ("apiVersion", "kind", "serviceCIDR", "domains", "pools", "redis")
REDIS_MODES = ("standalone", "sentinel")
_DOMAIN = ("nodeCIDR", "nodes", "subnets")
_NODE = ("name", "mode")
_SUBNET = ("name", "cidr", "gateway", "vlan", "ranges", "excluded", "reserved", "legacy")
_LEGACY = ("address", "port", "allow")
_POOL = ("name", "subnet", "size", "namespaces")


@dataclass(frozen=True, slots=True)
class LegacyHost:
    """A machine outside Kubernetes in `subnet`, accepting TCP `port` only from `allow`."""

    subnet: str
    address: IPv4Address
    prefix: int
    gateway: IPv4Address
    vlan: int
    port: int
    allow: tuple[IPv4Address, ...]


@dataclass(frozen=True, slots=True)
class LabSubnet:
    subnet: Subnet  # as parse_subnet read it
    resource: dict[str, Any]  # the Subnet custom resource the lab applies
    legacy: LegacyHost | None


@dataclass(frozen=True, slots=True)
class LabNode:
    name: str
    domain: str
    mode: str
    ip: IPv4Address  # InternalIP, on the node's untagged uplink eth1
    prefix: int
    gateway: IPv4Address  # the router's address in the domain's node CIDR
    vlans: tuple[int, ...]  # every VLAN of the domain (0 included)


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    node_cidr: IPv4Network
    subnets: tuple[LabSubnet, ...]
    nodes: tuple[LabNode, ...]

    @property
    def vlans(self) -> tuple[int, ...]:
        return tuple(sorted({0} | {s.subnet.vlan for s in self.subnets}))


@dataclass(frozen=True, slots=True)
class LabConfig:
    domains: tuple[Domain, ...]
    service_cidr: IPv4Network
    pools: tuple[dict[str, Any], ...]  # Pool custom resources
    redis: str = "standalone"  # or "sentinel"

    @property
    def nodes(self) -> tuple[LabNode, ...]:
        return tuple(n for d in self.domains for n in d.nodes)

    @property
    def subnets(self) -> tuple[LabSubnet, ...]:
        return tuple(s for d in self.domains for s in d.subnets)


def load(path: str | Path) -> LabConfig:
    """Read and check the file; InvalidInput located in it (`lab config PATH: ...`) on any fault."""
    where = f"lab config {path}"
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise InvalidInput(
            "--config", str(path), f"cannot be read ({err.strerror})", "give a readable YAML file"
        ) from None
    return loads(text, where)


def loads(text: str, where: str = "lab config") -> LabConfig:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "the file"
        problem = getattr(err, "problem", None) or "is not valid YAML"
        raise InvalidInput(at, "", f"{problem}", "fix the YAML syntax", where=where) from None
    try:
        return parse(doc)
    except InvalidInput as err:
        raise err.within(where if not err.where else f"{where}: {err.where}") from None


def parse(doc: object) -> LabConfig:
    top = mapping("(top level)", doc, "give a mapping with `domains`")
    allowed_keys(top, "", _TOP, KIND)
    if top.get("apiVersion", API_VERSION) != API_VERSION:
        raise InvalidInput("apiVersion", top.get("apiVersion"), "is not this format", f"write {API_VERSION}")
    if top.get("kind", KIND) != KIND:
        raise InvalidInput("kind", top.get("kind"), f"is not {KIND}", f"write kind: {KIND}")
    service = _ipv4_net("serviceCIDR", top.get("serviceCIDR", DEFAULT_SERVICE_CIDR))
    raw = mapping(
        "domains", top.get("domains"), "give at least one L2 domain, e.g. domains: {a: {nodes: 2, ...}}"
    )
    if not raw:
        raise InvalidInput("domains", {}, "is empty", "give at least one L2 domain")
    domains = tuple(_domain(name, body, i) for i, (name, body) in enumerate(raw.items()))
    _check_nodes_unique(domains)
    _check_no_overlap(domains, service)
    subnets = {s.subnet.name: s.subnet for d in domains for s in d.subnets}
    pools = tuple(_pool(i, p, subnets) for i, p in enumerate(sequence("pools", top.get("pools", []), 64)))
    redis = top.get("redis", "standalone")
    if redis not in REDIS_MODES:
        raise InvalidInput("redis", redis, "is not a lab Redis mode", f"use one of {', '.join(REDIS_MODES)}")
    return LabConfig(domains, service, pools, str(redis))


def _domain(name: str, body: object, index: int) -> Domain:
    path = f"domains.{name}"
    check_label(path, name)
    if len(name) > 12:
        raise InvalidInput(
            path, name, "is longer than 12 characters", "use a short name (it names namespaces)"
        )
    spec = mapping(path, body if body is not None else {}, "give nodeCIDR, nodes and subnets")
    allowed_keys(spec, f"{path}.", _DOMAIN, "domain")
    node_cidr = _ipv4_net(f"{path}.nodeCIDR", spec.get("nodeCIDR", f"192.168.{index + 1}.0/24"))
    raw_subnets = sequence(f"{path}.subnets", spec.get("subnets", []), 16)
    if not raw_subnets:
        raise InvalidInput(f"{path}.subnets", [], "is empty", "give the domain at least one subnet")
    subnets = tuple(_subnet(f"{path}.subnets[{i}]", name, s) for i, s in enumerate(raw_subnets))
    vlans: dict[int, str] = {}
    for i, s in enumerate(subnets):
        other = vlans.setdefault(s.subnet.vlan, s.subnet.name)
        if other != s.subnet.name:
            raise InvalidInput(
                f"{path}.subnets[{i}].vlan", s.subnet.vlan, f'is also the VLAN of subnet "{other}"',
                "give each subnet of a domain its own VLAN",
            )  # fmt: skip
    all_vlans = tuple(sorted({0, *vlans}))
    names = _node_entries(f"{path}.nodes", name, spec.get("nodes", 1))
    hosts = list(node_cidr.hosts())
    if len(names) > len(hosts) - 1:
        raise InvalidInput(
            f"{path}.nodes", f"{len(names)} nodes", f"do not fit in nodeCIDR {node_cidr} "
            f"({len(hosts) - 1} addresses besides the router's)", "give fewer nodes or a wider nodeCIDR",
        )  # fmt: skip
    gateway = hosts[0]
    nodes = tuple(
        LabNode(node, name, mode, hosts[i + 1], node_cidr.prefixlen, gateway, all_vlans)
        for i, (node, mode) in enumerate(names)
    )
    return Domain(name, node_cidr, subnets, nodes)


def _node_entries(path: str, domain: str, raw: object) -> list[tuple[str, str]]:
    if isinstance(raw, int) and not isinstance(raw, bool):
        count = integer(path, raw, 1, MAX_NODES, f"give 1..{MAX_NODES} nodes")
        return [(f"{domain}-{i + 1}", "bridge") for i in range(count)]
    out = []
    for i, entry in enumerate(sequence(path, raw, MAX_NODES)):
        item = (
            {"name": entry}
            if isinstance(entry, str)
            else mapping(f"{path}[{i}]", entry, "give a name or {name, mode}")
        )
        allowed_keys(item, f"{path}[{i}].", _NODE, "node")
        node = check_label(f"{path}[{i}].name", item.get("name"))
        if len(node) > 40:
            raise InvalidInput(
                f"{path}[{i}].name", node, "is longer than 40 characters", "use a shorter name"
            )
        mode = item.get("mode", "bridge")
        if mode not in MODES:
            raise InvalidInput(
                f"{path}[{i}].mode", mode, "is not a lab datapath mode", f"use one of {', '.join(MODES)}"
            )
        out.append((node, str(mode)))
    if not out:
        raise InvalidInput(path, raw, "is empty", "give the domain at least one node")
    return out


def _subnet(path: str, domain: str, raw: object) -> LabSubnet:
    body = mapping(path, raw, "give name, cidr and the other Subnet fields")
    allowed_keys(body, f"{path}.", _SUBNET, "lab subnet")
    name = check_subdomain(f"{path}.name", body.get("name"))
    cidr = _ipv4_net(f"{path}.cidr", body.get("cidr"))
    spec: dict[str, Any] = {k: body[k] for k in ("vlan", "ranges", "excluded", "reserved") if k in body}
    spec["cidr"] = str(cidr)
    spec["gateway"] = body.get("gateway", str(cidr.network_address + 1))
    spec["nodeSelector"] = {"matchLabels": {L2_LABEL: domain}}
    legacy_raw = body.get("legacy")
    legacy_ip: IPv4Address | None = None
    if legacy_raw is not None:
        leg = mapping(f"{path}.legacy", legacy_raw, "give address, port and allow")
        allowed_keys(leg, f"{path}.legacy.", _LEGACY, "legacy host")
        legacy_ip = _ipv4(f"{path}.legacy.address", leg.get("address"))
        if legacy_ip not in cidr or legacy_ip in (cidr.network_address, cidr.broadcast_address):
            raise InvalidInput(f"{path}.legacy.address", str(legacy_ip), f"is not a host address of {cidr}",
                               "give the legacy host an address inside its subnet")  # fmt: skip
        excluded = [str(x) for x in sequence(f"{path}.excluded", spec.get("excluded", []), 4095)]
        if str(legacy_ip) not in excluded:
            spec["excluded"] = [*excluded, str(legacy_ip)]  # fip must never hand out its address
    resource = {"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": name}, "spec": spec}
    try:
        subnet = parse_subnet(resource)
    except InvalidInput as err:  # name the config path, not the generated resource
        raise InvalidInput(
            f"{path}.{err.field.removeprefix('spec.')}", err.value, err.problem, err.fix
        ) from None
    legacy = None
    if legacy_raw is not None and legacy_ip is not None:
        leg = mapping(f"{path}.legacy", legacy_raw, "")
        if legacy_ip == subnet.gateway:
            raise InvalidInput(
                f"{path}.legacy.address", str(legacy_ip), "is the subnet's gateway", "pick another address"
            )
        port = integer(f"{path}.legacy.port", leg.get("port", 5000), 1, 65535, "give a TCP port")
        allow = tuple(
            _ipv4(f"{path}.legacy.allow[{i}]", a)
            for i, a in enumerate(sequence(f"{path}.legacy.allow", leg.get("allow", []), 4096))
        )
        legacy = LegacyHost(
            name, legacy_ip, cidr.prefixlen, IPv4Address(int(subnet.gateway)), subnet.vlan, port, allow
        )
    return LabSubnet(subnet, resource, legacy)


def _pool(index: int, raw: object, subnets: Mapping[str, Subnet]) -> dict[str, Any]:
    path = f"pools[{index}]"
    body = mapping(path, raw, "give name, subnet, size and namespaces")
    allowed_keys(body, f"{path}.", _POOL, "pool")
    spec = {k: v for k, v in body.items() if k != "name"}
    resource = {
        "apiVersion": "fip.io/v1",
        "kind": "Pool",
        "metadata": {"name": body.get("name")},
        "spec": spec,
    }
    try:
        check_pool(parse_pool(resource), subnets)
    except InvalidInput as err:
        field = err.field if err.field.startswith("metadata") else err.field.removeprefix("spec.")
        raise InvalidInput(
            f"{path}.{field.replace('metadata.', '')}", err.value, err.problem, err.fix
        ) from None
    return resource


def _check_nodes_unique(domains: tuple[Domain, ...]) -> None:
    seen: dict[str, str] = {}
    for d in domains:
        for n in d.nodes:
            if n.name in seen:
                raise InvalidInput(
                    f"domains.{d.name}.nodes", n.name, f"names a node twice (also in domain {seen[n.name]})",
                    "give every node its own name",
                )  # fmt: skip
            seen[n.name] = d.name


def _check_no_overlap(domains: tuple[Domain, ...], service: IPv4Network) -> None:
    """Every network the lab routes must be distinct: the router holds one leg in each."""
    nets: list[tuple[str, IPNetwork]] = [("serviceCIDR", service)]
    for d in domains:
        nets.append((f"domains.{d.name}.nodeCIDR", d.node_cidr))
        nets += [(f"domains.{d.name}.subnets[{i}].cidr", s.subnet.cidr) for i, s in enumerate(d.subnets)]
    for i, (field, net) in enumerate(nets):
        for other_field, other in nets[:i]:
            if net.overlaps(other):
                raise InvalidInput(
                    field, str(net), f"overlaps {other} ({other_field})",
                    "give every subnet, node CIDR and the service CIDR its own range",
                )  # fmt: skip


def _ipv4_net(field: str, value: object) -> IPv4Network:
    net = parse_network(field, value)
    if not isinstance(net, IPv4Network):
        raise InvalidInput(field, str(net), "is not IPv4", "fip-lab up builds IPv4 networks only")
    return net


def _ipv4(field: str, value: object) -> IPv4Address:
    ip = parse_ip(field, value)
    if not isinstance(ip, IPv4Address):
        raise InvalidInput(field, str(ip), "is not IPv4", "fip-lab up builds IPv4 networks only")
    return ip
