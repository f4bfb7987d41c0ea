"""`fipctl subnets` (usage table) and `fipctl subnets apply -f FILE` (load definitions).

Without Kubernetes, `apply` is how subnets and pools reach the store; with Kubernetes the
controllers keep the store in sync from the custom resources, and `apply` is for recovery and
tests. `apply` writes nothing unless every document is valid (see `fip.cli.manifest`); a store
error part-way through (a concurrent change) is reported with what was already written.
"""

from __future__ import annotations

import argparse

from fip.cli.manifest import Change, load_manifest, plan
from fip.cli.session import Session, Verbs
from fip.cli.table import emit
from fip.core.errors import FipError, InvalidInput
from fip.core.subnet import Pool, Subnet
from fip.store.errors import StateLost

COLUMNS = [
    ("SUBNET", "subnet"),
    ("CIDR", "cidr"),
    ("VLAN", "vlan"),
    ("TOTAL", "total"),
    ("ALLOCATED", "allocated"),
    ("RESERVED", "reserved"),
    ("FREE", "free"),
]
APPLY_COLUMNS = [("KIND", "kind"), ("NAME", "name"), ("RESULT", "action")]


def list_subnets(session: Session, args: argparse.Namespace) -> int:
    store = session.store()
    rows: list[dict[str, object]] = []
    for subnet in sorted(store.subnets(), key=lambda s: s.name):
        usage = store.usage(subnet.name)
        rows.append(
            {
                "subnet": subnet.name,
                "cidr": str(subnet.cidr),
                "vlan": subnet.vlan,
                "total": usage.total,
                "allocated": usage.allocated,
                "reserved": usage.reserved,
                "free": usage.free,
            }
        )
    emit(session.out, session.output, COLUMNS, rows, empty="")
    if session.output == "table":
        if not rows:
            session.note("no subnets defined; load some with: fipctl subnets apply -f FILE")
        try:
            store.check_intact()
        except StateLost as err:
            session.note(f"note: allocation is stopped: {err} (a brand-new store needs: fipctl init)")
    return 0


def read_source(path: str, session: Session) -> str:
    """The text of `path`, or of stdin for `-`, as UTF-8. Raises InvalidInput."""
    if path == "-":
        return session.stdin.read()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as err:
        raise InvalidInput("-f", path, f"cannot be read ({err.strerror or err})", "check the path") from None
    except UnicodeDecodeError:
        raise InvalidInput("-f", path, "is not UTF-8 text", "give a YAML file") from None
    except ValueError as err:  # e.g. an embedded NUL in the path
        raise InvalidInput("-f", path, f"is not a usable path ({err})", "check the path") from None


def apply(session: Session, args: argparse.Namespace) -> int:
    path: str = args.file
    source = "stdin" if path == "-" else path
    manifest = load_manifest(read_source(path, session), source)
    store = session.store()
    changes = plan(manifest, store.subnets(), store.pools(), store.by_subnet)
    done: list[Change] = []
    try:
        for change in changes:
            if change.action == "unchanged":
                done.append(change)
                continue
            if isinstance(change.definition, Subnet):
                store.put_subnet(change.definition)
            elif isinstance(change.definition, Pool):
                store.put_pool(change.definition)
            done.append(change)
    except FipError:
        written = ", ".join(f"{c.kind} {c.name}" for c in done if c.action != "unchanged") or "nothing"
        session.note(f"fipctl: applied before the failure: {written}")
        raise
    rows = [{"kind": c.kind, "name": c.name, "action": c.action} for c in done]
    emit(session.out, session.output, APPLY_COLUMNS, rows)
    return 0


def add_parsers(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "subnets",
        parents=[common],
        help="show subnets with their usage; 'subnets apply -f FILE' loads definitions",
        description="Show every subnet with total / allocated / reserved / free addresses.",
    )
    p.set_defaults(handler=list_subnets)
    sub = p.add_subparsers(dest="subnets_verb", metavar="{apply}")
    a = sub.add_parser(
        "apply",
        parents=[common],
        help="load Subnet and Pool resources from YAML",
        description="Load fip.io/v1 Subnet and Pool resources (multi-document YAML). All documents "
        "are checked before anything is written.",
    )
    a.add_argument(
        "-f", "--filename", dest="file", required=True, metavar="FILE", help="YAML file, or - for stdin"
    )
    a.set_defaults(handler=apply)
