"""`fipctl ips [--subnet S] [--owner O]`: every handed-out IP with its holder.

Free IPs have no record and are not listed. `--owner` with a workload key (no instance, e.g.
`default/StatefulSet/web`) also lists the IPs of its instances.
"""

from __future__ import annotations

import argparse

from fip.cli.operands import parse_owner, parse_subnet_name
from fip.cli.session import Session, Verbs
from fip.cli.table import age, emit
from fip.core.record import AllocationRecord
from fip.store.errors import UnknownSubnet

COLUMNS = [
    ("IP", "ip"),
    ("SUBNET", "subnet"),
    ("STATE", "state"),
    ("OWNER", "owner"),
    ("POD", "pod"),
    ("NODE", "node"),
    ("POLICY", "policy"),
    ("AGE", "age"),
]


def record_row(rec: AllocationRecord, now: float) -> dict[str, object]:
    """The JSON form of a record (times in unix seconds; `age_seconds` since creation)."""
    return {
        "ip": str(rec.ip),
        "subnet": rec.subnet,
        "state": rec.state.value,
        "owner": rec.owner.encode(),
        "pod": rec.pod_name,
        "pod_uid": rec.pod_uid,
        "node": rec.node,
        "policy": rec.policy.value,
        "pool": rec.pool,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "age_seconds": round(now - rec.created_at, 3) if rec.created_at else None,
    }


def list_ips(session: Session, args: argparse.Namespace) -> int:
    subnet = parse_subnet_name("--subnet", args.subnet) if args.subnet is not None else None
    owner = parse_owner("--owner", args.owner) if args.owner is not None else None
    store = session.store()
    if subnet is not None and subnet not in {s.name for s in store.subnets()}:
        raise UnknownSubnet(f'subnet "{subnet}" is not defined; list them with: fipctl subnets')
    if owner is not None:
        records = [r for r in store.by_owner(owner) if subnet is None or r.subnet == subnet]
    elif subnet is not None:
        records = store.by_subnet(subnet)
    else:
        records = [r for s in store.subnets() for r in store.by_subnet(s.name)]
    records.sort(key=lambda r: (r.subnet, r.ip.version, int(r.ip)))
    now = session.clock()
    rows = [record_row(r, now) for r in records]
    if session.output == "table":
        for row in rows:
            seconds = row["age_seconds"]
            row["age"] = age(seconds) if isinstance(seconds, float) else ""
    emit(session.out, session.output, COLUMNS, rows)
    if not rows and session.output == "table":
        session.note("no IPs handed out" + (" matching the filters" if subnet or owner else ""))
    return 0


def add_parsers(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "ips",
        parents=[common],
        help="list handed-out IPs and who holds them",
        description="List every handed-out IP (allocated, bound or reserved) with its owner.",
    )
    p.add_argument("--subnet", metavar="S", help="only IPs of subnet S")
    p.add_argument("--owner", metavar="O", help="only IPs of owner O: namespace/Kind/name[/instance]")
    p.set_defaults(handler=list_ips)
