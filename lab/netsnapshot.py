"""A comparable picture of a namespace's links, addresses and routes.

Tests take one before a failing plug and one after it: the rollback is complete iff they are
equal. Interface indexes and IPv6 link-local addresses of links that were deleted and made again
would differ, so the picture keys everything by name and keeps what a person would compare in
`ip -d link` / `ip addr` / `ip route`: kind, master, up, MAC, MTU, addresses, routes.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from bridge.netlink import Netlink


@dataclass(frozen=True, slots=True)
class Snapshot:
    links: frozenset[tuple[str, str, str, bool, str, int]]
    addresses: frozenset[tuple[str, str]]
    routes: frozenset[tuple[str, str, str, int]]

    def diff(self, other: Snapshot) -> list[str]:
        """Human-readable differences (`-` only in self, `+` only in other)."""
        out = []
        for label, mine, theirs in (
            ("link", self.links, other.links),
            ("addr", self.addresses, other.addresses),
            ("route", self.routes, other.routes),
        ):
            out += [f"- {label} {x}" for x in sorted(mine - theirs, key=str)]
            out += [f"+ {label} {x}" for x in sorted(theirs - mine, key=str)]
        return out


def snapshot(netns: str | None) -> Snapshot:
    with Netlink(netns) as nl:
        links = nl.links()
        names = {lk.index: lk.name for lk in links}
        return Snapshot(
            links=frozenset(
                (lk.name, lk.kind, names.get(lk.master or 0, ""), lk.up, lk.mac, lk.mtu) for lk in links
            ),
            addresses=frozenset((a.ifname, f"{a.ip}/{a.prefix}") for a in nl.addresses()),
            routes=frozenset(
                (str(r.dst or "default"), str(r.gateway or ""), r.oif or "", r.proto)
                for fam in (socket.AF_INET, socket.AF_INET6)
                for r in nl.routes(fam)
            ),
        )
