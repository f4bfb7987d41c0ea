"""`fipctl release IP [--subnet S] [--yes]`: an operator frees one IP.

The IP's subnet is found from the stored definitions (subnets never overlap) unless `--subnet`
names it. The person confirms the exact holder shown; the release then names that holder's
owner and pod UID, so if the IP changed hands between the question and the answer the store
refuses it (StaleOperation) instead of freeing somebody else's IP. Without a terminal to ask
on, `--yes` is required. Releasing a free IP succeeds and says so (idempotent).
"""

from __future__ import annotations

import argparse

from fip.cli.ips import record_row
from fip.cli.operands import parse_ip, parse_subnet_name
from fip.cli.session import Session, Verbs
from fip.cli.table import emit_object
from fip.core.errors import FipError
from fip.core.record import AllocationRecord, IPState
from fip.core.subnet import IPAddress
from fip.store.errors import UnknownSubnet


class NotConfirmed(FipError):
    """The person said no, or could not be asked."""


def describe(rec: AllocationRecord) -> str:
    if rec.state is IPState.RESERVED and not rec.pod_uid:
        return f"{rec.ip} reserved for {rec.owner} (no pod)"
    pod = rec.pod_name or "?"
    return f"{rec.ip} held by {rec.owner} (pod {pod}, uid {rec.pod_uid or '-'})"


def find_subnet(session: Session, ip: IPAddress, named: str | None) -> str:
    subnets = session.store().subnets()
    if named is not None:
        match = [s for s in subnets if s.name == named]
        if not match:
            raise UnknownSubnet(f'subnet "{named}" is not defined; list them with: fipctl subnets')
        if ip.version != match[0].cidr.version or ip not in match[0].cidr:
            raise UnknownSubnet(f"{ip} is not inside subnet {named!r} ({match[0].cidr})")
        return named
    inside = [s.name for s in subnets if s.cidr.version == ip.version and ip in s.cidr]
    if not inside:
        raise UnknownSubnet(f"{ip} lies in no defined subnet; list them with: fipctl subnets")
    if len(inside) > 1:
        raise UnknownSubnet(f"{ip} lies in several subnets ({', '.join(inside)}); name one with --subnet")
    return inside[0]


def confirm(session: Session, question: str) -> None:
    if not session.stdin.isatty():
        raise NotConfirmed(
            f"release {question}: no terminal to confirm on; pass --yes to release without asking"
        )
    session.err.write(f"release {question}? [y/N] ")
    session.err.flush()
    answer = session.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise NotConfirmed("not released")


def release(session: Session, args: argparse.Namespace) -> int:
    ip = parse_ip("IP", args.ip)
    named = parse_subnet_name("--subnet", args.subnet) if args.subnet is not None else None
    subnet = find_subnet(session, ip, named)
    store = session.store()
    rec = store.get(subnet, ip)
    if rec is not None and not args.yes:
        confirm(session, describe(rec))
    freed = None if rec is None else store.release(subnet, ip, rec.owner, rec.pod_uid, session.clock())
    if rec is None or freed is None:
        emit_object(
            session.out,
            session.output,
            {"ip": str(ip), "subnet": subnet, "released": None},
            f"{ip} in subnet {subnet} is already free",
        )
        return 0
    emit_object(
        session.out,
        session.output,
        {"ip": str(ip), "subnet": subnet, "released": record_row(freed, session.clock())},
        f"released {describe(rec)}",
    )
    return 0


def add_parsers(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "release",
        parents=[common],
        help="free one IP (asks first; --yes to skip)",
        description="Free one handed-out IP whatever its policy. Asks for confirmation.",
    )
    p.add_argument("ip", metavar="IP", help="the address, e.g. 10.0.1.17")
    p.add_argument("--subnet", metavar="S", help="the subnet holding IP (found automatically)")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=release)
