"""How the Redis store writes subnets, records and addresses (pure: no redis import).

Addresses are fixed-width lowercase hex (8 digits IPv4, 32 IPv6) so the Lua functions compare
and step them as strings. A record is a JSON array of strings
`[owner, state, policy, pod_name, pod_uid, node, pool, created_at, updated_at]` (times as Python
float reprs, so they round-trip exactly). A subnet is a JSON object whose hash is its version.
"""

from __future__ import annotations

import hashlib
import ipaddress
from functools import lru_cache

import orjson

from fip.core.owner import OwnerKey, OwnerKind
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.core.subnet import IPAddress, IPRange, NodeSelection, Subnet

MAX_SPAN = 2**52  # interval lengths are capped here: the cursor never gets that far


def ip_hex(ip: IPAddress) -> str:
    return f"{int(ip):08x}" if ip.version == 4 else f"{int(ip):032x}"


def int_hex(n: int, family: int) -> str:
    return f"{n:08x}" if family == 4 else f"{n:032x}"


def hex_ip(text: str) -> IPAddress:
    n = int(text, 16)
    return ipaddress.IPv4Address(n) if len(text) == 8 else ipaddress.IPv6Address(n)


_KINDS = {k.value: k for k in OwnerKind}
_WITH_INSTANCE = {OwnerKind.STATEFULSET, OwnerKind.TAPP}


@lru_cache(maxsize=65536)
def owner_of(text: str) -> OwnerKey:
    """An owner key the store wrote (`OwnerKey.encode` of a validated key): split without
    re-running the name checks (a 100,000-record read would spend seconds there); anything
    that does not have the written shape goes through the strict `OwnerKey.decode`."""
    parts = text.split("/")
    kind = _KINDS.get(parts[1]) if len(parts) in (3, 4) else None
    if kind is not None and parts[0] and parts[2]:
        inst = parts[3] if len(parts) == 4 else None
        canonical = inst is None or (inst.isascii() and inst.isdigit() and (inst == "0" or inst[0] != "0"))
        if (inst is not None) == (kind in _WITH_INSTANCE) and canonical:
            return OwnerKey(parts[0], kind, parts[2], inst)
    return OwnerKey.decode(text)


def record_fields(rec: AllocationRecord) -> list[str]:
    return [
        rec.owner.encode(),
        rec.state.value,
        rec.policy.value,
        rec.pod_name,
        rec.pod_uid,
        rec.node,
        rec.pool,
        repr(float(rec.created_at)),
        repr(float(rec.updated_at)),
    ]


def encode_record(rec: AllocationRecord) -> str:
    return orjson.dumps(record_fields(rec)).decode()


def decode_record(subnet: str, hexip: str, raw: str | bytes) -> AllocationRecord:
    f = orjson.loads(raw)
    return AllocationRecord(
        ip=hex_ip(hexip),
        subnet=subnet,
        owner=owner_of(f[0]),
        state=IPState(f[1]),
        policy=ReleasePolicy(f[2]),
        pod_name=f[3],
        pod_uid=f[4],
        node=f[5],
        pool=f[6],
        created_at=float(f[7]),
        updated_at=float(f[8]),
    )


# Full reads (the controllers' reconcile pass reads every record each period) mostly see records
# that did not change since the last pass: the same (subnet, ip, raw) decodes to the same frozen
# record, so it is kept (about 60 MB for 131,072 records).
decode_record_cached = lru_cache(maxsize=131_072)(decode_record)


def encode_subnet(s: Subnet) -> tuple[str, str]:
    """The subnet as JSON, and its version (a hash of that JSON)."""
    doc = {
        "name": s.name,
        "cidr": str(s.cidr),
        "gateway": str(s.gateway),
        "vlan": s.vlan,
        "ranges": [[str(r.start), str(r.end)] for r in s.ranges],
        "excluded": sorted(str(ip) for ip in sorted(s.excluded)),
        "reserved": sorted(str(ip) for ip in sorted(s.reserved)),
        "labels": [list(kv) for kv in s.nodes.match_labels],
        "node_cidrs": [str(n) for n in s.nodes.node_cidrs],
    }
    text = orjson.dumps(doc).decode()
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


def decode_subnet(text: str | bytes) -> Subnet:
    d = orjson.loads(text)
    return Subnet(
        name=d["name"],
        cidr=ipaddress.ip_network(d["cidr"]),
        gateway=ipaddress.ip_address(d["gateway"]),
        vlan=d["vlan"],
        ranges=tuple(IPRange(ipaddress.ip_address(a), ipaddress.ip_address(b)) for a, b in d["ranges"]),
        excluded=frozenset(ipaddress.ip_address(x) for x in d["excluded"]),
        reserved=frozenset(ipaddress.ip_address(x) for x in d["reserved"]),
        nodes=NodeSelection(
            match_labels=tuple((k, v) for k, v in d["labels"]),
            node_cidrs=tuple(ipaddress.ip_network(n) for n in d["node_cidrs"]),
        ),
    )


def encode_intervals(s: Subnet) -> str:
    """Allocatable intervals as "<start hex>:<length>,..." for the Lua cursor."""
    return ",".join(f"{int_hex(a, s.family)}:{min(b - a + 1, MAX_SPAN)}" for a, b in s.allocatable())


def encode_subnet_reserved(s: Subnet) -> str:
    return ",".join(ip_hex(ip) for ip in sorted(s.reserved) if s.requestable(ip))
