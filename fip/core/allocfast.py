"""A fast path for reading `fip.io/allocation`: the exact text the extender writes, IPv4.

The controllers read the annotation of every pod when their caches fill (100,000 pods at a
restart), where the strict parser (`fip.core.annotation.parse`, ~80 µs) would dominate. This
module accepts only the canonical form `Allocation.encode` writes for an IPv4 address, checks
the same rules with integer arithmetic, and hands anything else — other spellings, IPv6, any
doubt — to the strict parser, which accepts or refuses it with its precise message. So
`parse(text) == annotation.parse(text)` for every text (a property test holds them together),
only faster for the common case.
"""

from __future__ import annotations

import ipaddress
import re

from fip.core import annotation
from fip.core.annotation import Allocation
from fip.core.names import LABEL, SUBDOMAIN
from fip.core.owner import OwnerKey, OwnerKind

_Q = r"(?:0|[1-9][0-9]{0,2})"
_IP = rf"({_Q}\.{_Q}\.{_Q}\.{_Q})"
_CANONICAL = re.compile(
    rf'\{{"ip":"{_IP}","prefix":([1-9][0-9]?),"gateway":"{_IP}","vlan":(0|[1-9][0-9]{{0,3}}),'
    r'"subnet":"([a-z0-9.-]{1,253})","owner":"([a-z0-9-]{1,63})/(Pod|Deployment|StatefulSet|TApp)/'
    r'([a-z0-9.-]{1,253})(?:/(0|[1-9][0-9]{0,8}))?"\}'
)
_INSTANCE_KINDS = {"StatefulSet", "TApp"}


def _quad(text: str) -> int | None:
    """The dotted quad (already canonical by the pattern) as an integer; None past 255."""
    try:
        return int.from_bytes(bytes(map(int, text.split("."))), "big")  # bytes(): each 0..255
    except ValueError:
        return None


def _fast(text: str) -> Allocation | None:  # noqa: PLR0911 (one refusal per rule, like the strict parser)
    m = _CANONICAL.fullmatch(text)
    if m is None:
        return None
    g = m.groups()
    ip, gw = _quad(g[0]), _quad(g[2])
    prefix, vlan = int(g[1]), int(g[3])
    subnet, ns, kind, name, inst = g[4], g[5], g[6], g[7], g[8]
    if ip is None or gw is None or prefix > 32 or vlan > 4094 or gw == ip:
        return None
    host = 32 - prefix
    if ip >> host != gw >> host:
        return None
    if prefix < 31 and (ip & ((1 << host) - 1) in (0, (1 << host) - 1)):
        return None  # network or broadcast address (the strict parser's message says which)
    for addr in (ip, gw):
        top = addr >> 24
        if addr == 0 or top == 127 or 224 <= top <= 239 or (addr >> 16) == 0xA9FE:
            return None
    if not (SUBDOMAIN.fits(subnet) and LABEL.fits(ns) and SUBDOMAIN.fits(name)):
        return None
    if (inst is not None) != (kind in _INSTANCE_KINDS):
        return None
    owner = OwnerKey(ns, OwnerKind(kind), name, inst)
    return Allocation(ipaddress.IPv4Address(ip), prefix, ipaddress.IPv4Address(gw), vlan, subnet, owner)


def parse(text: object) -> Allocation:
    """`fip.core.annotation.parse`, faster for the canonical IPv4 form."""
    if isinstance(text, str) and len(text) <= 1024:
        got = _fast(text)
        if got is not None:
            return got
    return annotation.parse(text)
