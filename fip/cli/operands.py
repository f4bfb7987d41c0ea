"""Parsers for the values people type after fipctl verbs: IP addresses, subnet names, owners.

Each turns text into a typed value or raises `BadArgument` (an `InvalidInput`) naming the flag,
the value and the fix; fipctl exits 2 (usage) on it, as argparse does for its own checks.
"""

from __future__ import annotations

from fip.core import addresses
from fip.core.errors import InvalidInput
from fip.core.names import check_subdomain
from fip.core.owner import OwnerKey, OwnerKind
from fip.core.subnet import IPAddress


class BadArgument(InvalidInput):
    """A command-line argument does not parse: a usage error (exit code 2)."""


def parse_ip(field: str, text: str) -> IPAddress:
    """An IPv4 or IPv6 address as people type it (any IPv6 spelling; no prefix, zone or padding)."""
    try:
        return addresses.parse_ip(field, text, canonical=False)
    except InvalidInput as err:
        raise BadArgument(field, text, err.problem, err.fix) from None


def parse_subnet_name(field: str, text: str) -> str:
    try:
        return check_subdomain(field, text)
    except InvalidInput as err:
        raise BadArgument(field, text, err.problem, err.fix) from None


def parse_owner(field: str, text: str) -> OwnerKey:
    """`namespace/Kind/name[/instance]`. A StatefulSet or TApp key may leave out the instance:
    it then names the workload, and the store's `by_owner` matches all its instances."""
    try:
        return OwnerKey.decode(text)
    except InvalidInput as err:
        parts = text.split("/")
        if len(parts) == 3 and parts[1] in (OwnerKind.STATEFULSET, OwnerKind.TAPP):
            try:
                return OwnerKey.of(parts[0], parts[1], parts[2], 0).workload()
            except InvalidInput:
                pass
        raise BadArgument(
            field, text, err.problem, err.fix or "write namespace/Kind/name[/instance]"
        ) from None
