"""Subnet resources <-> `Subnet`: the one place a Subnet custom resource is validated.

`parse_subnet` takes the decoded resource (the shape in `deploy/crds/subnets.yaml`) and
returns a `Subnet` that meets every invariant listed on the class, or raises one
`InvalidInput` naming the field path (`spec.ranges[1]`), the value and the fix.
`subnet_to_resource` is its inverse: `parse_subnet(subnet_to_resource(s)) == s` for any valid
subnet, and the resource it writes is canonical (sorted addresses, canonical IPv6).

Decisions a caller must know:
- ranges may be written in any order; they are sorted, and two ranges that share an address are
  rejected naming both. Adjacent ranges are fine.
- excluded and reserved addresses must lie in the CIDR and may not repeat or meet; a reserved
  address must lie in the ranges (otherwise it could never be handed out) and may not be the
  gateway. The gateway, the network address and the IPv4 broadcast address are never handed out
  even when a range covers them.
- a subnet must name its nodes (a label selector and/or node-IP CIDRs); one whose nodes are
  missing is rejected rather than silently useless.
- status totals above 2**63-1 (large IPv6 subnets) are written as 2**63-1: the CRD's integers
  are int64 (see `subnet_status`).
- Pools (`parse_pool`, `pool_to_resource`, `check_pool`) live in `fip.core.poolspec` and are
  re-exported here.

Containment and overlap are netaddr's (`IPNetwork`, `IPRange`, `IPSet`, see `fip.core.subnet`);
where a check must name the two offenders, the sorted ranges or CIDRs are walked to find them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import netaddr

from fip.core.addresses import parse_ip, parse_network, parse_range
from fip.core.errors import InvalidInput
from fip.core.names import check_label_key, check_label_value
from fip.core.poolspec import check_pool, parse_pool, pool_to_resource
from fip.core.record import Usage
from fip.core.resource import (
    API_VERSION,
    INT64_MAX,
    allowed_keys,
    integer,
    mapping,
    parse_resource,
    required,
    sequence,
    unique,
)
from fip.core.subnet import (
    IPAddress,
    IPNetwork,
    IPRange,
    NodeSelection,
    Subnet,
    in_intervals,
    intervals,
    na_network,
    point_to_point,
)

__all__ = [
    "INT64_MAX",
    "LIMITS",
    "SUBNET_FIELDS",
    "SUBNET_REQUIRED",
    "check_no_overlap",
    "check_pool",
    "parse_pool",
    "parse_subnet",
    "pool_to_resource",
    "subnet_status",
    "subnet_to_resource",
]

SUBNET_FIELDS = ("cidr", "gateway", "vlan", "ranges", "excluded", "reserved", "nodeSelector", "nodeCIDRs")
SUBNET_REQUIRED = ("cidr", "gateway")
# maxItems / maxProperties of the CRD schema; a test holds the YAML to these numbers.
LIMITS = {"ranges": 256, "excluded": 4096, "reserved": 4096, "nodeCIDRs": 256, "matchLabels": 64}


def parse_subnet(obj: object) -> Subnet:
    """Validate a Subnet resource (apiVersion fip.io/v1, kind Subnet); status is ignored."""
    return parse_resource(obj, "Subnet", _subnet)


def _subnet(name: str, spec: Mapping[str, object]) -> Subnet:
    allowed_keys(spec, "spec.", SUBNET_FIELDS, "Subnet")
    cidr = parse_network("spec.cidr", required(spec, "spec.", "cidr", "give the network, e.g. 10.0.1.0/24"))
    if cidr.num_addresses < 2:
        raise InvalidInput(
            "spec.cidr", str(cidr), "holds a single address", "give a network with room for gateway and pods"
        )
    gateway = parse_ip("spec.gateway", required(spec, "spec.", "gateway", "give the router's address"))
    _check_gateway(gateway, cidr)
    vlan = integer("spec.vlan", spec.get("vlan", 0), 0, 4094, "use 0 for untagged or a VLAN id 1..4094")
    ranges = _ranges(spec.get("ranges", []), cidr)
    excluded = _addresses("spec.excluded", spec.get("excluded", []), cidr)
    reserved = _addresses("spec.reserved", spec.get("reserved", []), cidr)
    covered = intervals(netaddr.IPSet(r.net for r in ranges))
    starts = tuple(a for a, _ in covered)
    excluded_set = frozenset(excluded)
    for i, ip in enumerate(reserved):
        field = f"spec.reserved[{i}]"
        if ip in excluded_set:
            raise InvalidInput(
                field, str(ip), "is also in spec.excluded", "an address is excluded or reserved, not both"
            )
        if ip == gateway:
            raise InvalidInput(field, str(ip), "is the gateway", "remove it from spec.reserved")
        if not point_to_point(cidr) and (
            ip == cidr.network_address or (cidr.version == 4 and ip == cidr.broadcast_address)
        ):
            what = "network" if ip == cidr.network_address else "broadcast"
            raise InvalidInput(
                field,
                str(ip),
                f"is the {what} address of {cidr}, never handed out",
                "remove it from spec.reserved",
            )
        if ranges and not in_intervals(covered, starts, int(ip)):
            raise InvalidInput(
                field,
                str(ip),
                "is outside spec.ranges, so it could never be handed out",
                "add it to a range or remove it",
            )
    subnet = Subnet(
        name=name,
        cidr=cidr,
        gateway=gateway,
        vlan=vlan,
        ranges=ranges,
        excluded=excluded_set,
        reserved=frozenset(reserved),
        nodes=_nodes(spec),
    )
    if subnet.total() == 0:
        raise InvalidInput(
            "spec.ranges" if ranges else "spec.cidr",
            ", ".join(map(str, ranges)) or str(cidr),
            "leaves no address to hand out (gateway, network, broadcast and excluded removed)",
            "widen the ranges or shorten spec.excluded",
        )
    return subnet


def _inside(field: str, ip: IPAddress, cidr: IPNetwork) -> None:
    if ip.version != cidr.version or ip not in cidr:
        raise InvalidInput(
            field,
            str(ip),
            f"is outside spec.cidr {cidr}",
            f"give an address inside {cidr}, e.g. {cidr[1]}",
        )


def _check_gateway(gateway: IPAddress, cidr: IPNetwork) -> None:
    _inside("spec.gateway", gateway, cidr)
    if point_to_point(cidr):
        return
    first = cidr[1]
    if gateway == cidr.network_address:
        raise InvalidInput(
            "spec.gateway", str(gateway), f"is the network address of {cidr}", f"did you mean {first}?"
        )
    if cidr.version == 4 and gateway == cidr.broadcast_address:
        raise InvalidInput(
            "spec.gateway", str(gateway), f"is the broadcast address of {cidr}", f"did you mean {first}?"
        )


def _ranges(value: object, cidr: IPNetwork) -> tuple[IPRange, ...]:
    raw = sequence("spec.ranges", value, LIMITS["ranges"])
    parsed: list[tuple[IPRange, int]] = []
    network = na_network(cidr)
    for i, item in enumerate(raw):
        r = parse_range(f"spec.ranges[{i}]", item)
        if r.net not in network:  # netaddr: also False across families
            raise InvalidInput(
                f"spec.ranges[{i}]",
                item,
                f"is outside spec.cidr {cidr}",
                f"keep ranges within {cidr[0]}-{cidr[-1]}",
            )
        parsed.append((r, i))
    parsed.sort()
    if netaddr.IPSet(r.net for r, _ in parsed).size == sum(len(r) for r, _ in parsed):
        return tuple(r for r, _ in parsed)
    # they overlap; sorted by start, the first range that meets an earlier one meets the one before it
    for (a, i), (b, j) in itertools.pairwise(parsed):
        if b.net.first <= a.net.last:
            raise InvalidInput(
                f"spec.ranges[{j}]",
                raw[j],
                f"overlaps spec.ranges[{i}] {a}",
                "make the ranges disjoint (or merge them into one)",
            )
    return tuple(r for r, _ in parsed)


def _addresses(field: str, value: object, cidr: IPNetwork) -> list[IPAddress]:
    raw = sequence(field, value, LIMITS[field.removeprefix("spec.")])
    ips = [parse_ip(f"{field}[{i}]", item) for i, item in enumerate(raw)]
    for i, ip in enumerate(ips):
        _inside(f"{field}[{i}]", ip, cidr)
    unique(field, raw, list(ips))
    return ips


def _nodes(spec: Mapping[str, object]) -> NodeSelection:
    if "nodeSelector" not in spec and "nodeCIDRs" not in spec:
        raise InvalidInput(
            "spec.nodeSelector",
            None,
            "and spec.nodeCIDRs are both missing, so the subnet has no nodes",
            "add spec.nodeSelector.matchLabels (e.g. fip.io/l2: <subnet>) "
            "or spec.nodeCIDRs (the networks of the nodes' own IPs)",
        )
    labels: list[tuple[str, str]] = []
    if "nodeSelector" in spec:
        sel = mapping("spec.nodeSelector", spec["nodeSelector"], "write {matchLabels: {key: value}}")
        if "matchExpressions" in sel:
            raise InvalidInput(
                "spec.nodeSelector.matchExpressions",
                sel["matchExpressions"],
                "is not supported",
                "use matchLabels (every label must match) or spec.nodeCIDRs",
            )
        allowed_keys(sel, "spec.nodeSelector.", ("matchLabels",), "nodeSelector")
        field = "spec.nodeSelector.matchLabels"
        match = mapping(field, sel.get("matchLabels", {}), "write matchLabels: {key: value}")
        if len(match) > LIMITS["matchLabels"]:
            raise InvalidInput(field, f"{len(match)} labels", "has too many labels", "give at most 64")
        for key, val in match.items():
            check_label_key(field, key)
            labels.append((key, check_label_value(f'{field}["{key}"]', val)))
    raw = sequence("spec.nodeCIDRs", spec.get("nodeCIDRs", []), LIMITS["nodeCIDRs"])
    nets = [parse_network(f"spec.nodeCIDRs[{i}]", item) for i, item in enumerate(raw)]
    unique("spec.nodeCIDRs", raw, list(nets))
    if not labels and not nets:
        raise InvalidInput(
            "spec.nodeSelector",
            spec.get("nodeSelector"),
            "selects no nodes",
            "give matchLabels (for every node, a label all carry, e.g. kubernetes.io/os: linux) "
            "or spec.nodeCIDRs",
        )
    return NodeSelection(tuple(sorted(labels)), tuple(sorted(nets, key=_net_order)))


def _net_order(net: IPNetwork) -> tuple[int, int, int]:
    return (net.version, int(net.network_address), net.prefixlen)


def subnet_to_resource(subnet: Subnet) -> dict[str, object]:
    """The canonical resource of `subnet` (no status); `parse_subnet` reads it back equal."""
    spec: dict[str, object] = {"cidr": str(subnet.cidr), "gateway": str(subnet.gateway), "vlan": subnet.vlan}
    if subnet.ranges:
        spec["ranges"] = [str(r) for r in subnet.ranges]
    if subnet.excluded:
        spec["excluded"] = [str(ip) for ip in sorted(subnet.excluded)]
    if subnet.reserved:
        spec["reserved"] = [str(ip) for ip in sorted(subnet.reserved)]
    if subnet.nodes.match_labels:
        spec["nodeSelector"] = {"matchLabels": dict(subnet.nodes.match_labels)}
    if subnet.nodes.node_cidrs:
        spec["nodeCIDRs"] = [str(n) for n in sorted(subnet.nodes.node_cidrs, key=_net_order)]
    return {"apiVersion": API_VERSION, "kind": "Subnet", "metadata": {"name": subnet.name}, "spec": spec}


def subnet_status(usage: Usage) -> dict[str, int]:
    """The Subnet's `status`: counts capped at 2**63-1, the largest integer the API stores."""
    counts = {
        "total": usage.total,
        "allocated": usage.allocated,
        "reserved": usage.reserved,
        "free": usage.free,
    }
    return {k: max(0, min(v, INT64_MAX)) for k, v in counts.items()}


def check_no_overlap(subnets: Iterable[Subnet]) -> None:
    """Reject two subnets with the same name or overlapping CIDRs (one L2 domain, one Subnet).

    Two CIDRs overlap only when one holds the other; in (family, network, prefix) order each CIDR
    is checked against the earlier one reaching furthest, the only one that can hold it."""
    names: set[str] = set()
    widest: dict[int, tuple[Subnet, netaddr.IPNetwork]] = {}  # per family
    for s in sorted(subnets, key=lambda s: _net_order(s.cidr)):
        if s.name in names:
            raise InvalidInput("metadata.name", s.name, "names two subnets", "give each subnet its own name")
        names.add(s.name)
        net = na_network(s.cidr)
        prev, prev_net = widest.get(s.cidr.version, (None, None))
        if prev is not None and prev_net is not None and net in prev_net:
            raise InvalidInput(
                "spec.cidr",
                str(s.cidr),
                f'overlaps {prev.cidr} of Subnet "{prev.name}"',
                "give each subnet its own CIDR; one L2 domain is one Subnet",
                where=f'Subnet "{s.name}"',
            )
        if prev_net is None or net.last > prev_net.last:
            widest[s.cidr.version] = (s, net)
