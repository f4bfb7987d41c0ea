"""The netlink adapter: the only module that imports pyroute2.

Everything else in fip talks to the kernel through `Netlink` (one rtnetlink socket bound to one
network namespace) and the netns functions below, in plain types: names, `ipaddress` objects and
the small frozen records `Link` (shared with `bridge.rtnl`, from `bridge.linkinfo`), `Address`,
`Route`, `Neighbour`. pyroute2's errors become `bridge.errors.NetlinkError` / `LinkNotFound`
here, once, with `raise ... from`, through the errno map both paths share
(`bridge.linkinfo.kernel_error`).

Namespaces are named (a file under /var/run/netns, as `ip netns` makes them) or given as a path
(`/proc/<pid>/ns/net`). `None` means the caller's own namespace. Opening a `Netlink` on a missing
namespace raises `LinkNotFound`; it never creates one (pyroute2 would by default).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from ipaddress import IPv4Network as _V4Net
from ipaddress import IPv6Network as _V6Net
from typing import Any

from pyroute2 import IPRoute
from pyroute2 import netns as _netns
from pyroute2.netlink.exceptions import NetlinkError as _PyNetlinkError

from bridge.errors import LinkNotFound, NetlinkError
from bridge.linkinfo import (
    AF_INET,
    IFA_F_NODAD,
    IFF_UP,
    NUD_PERMANENT,
    RT_TABLE_MAIN,
    RTN_UNICAST,
    RTPROT_BOOT,
    Link,
    kernel_error,
    netns_path,
)

__all__ = [
    "Address", "Link", "Neighbour", "Netlink", "Route",
    "create_netns", "list_netns", "netns_path", "remove_netns",
]  # fmt: skip

IPAddr = IPv4Address | IPv6Address
IPNet = _V4Net | _V6Net


@contextlib.contextmanager
def _kernel(op: str, target: str) -> Iterator[None]:
    """Turn pyroute2 / OS failures of one request into our errors."""
    try:
        yield
    except _PyNetlinkError as exc:
        raise kernel_error(op, target, exc.code, "" if exc.code else str(exc)) from exc
    except OSError as exc:
        raise kernel_error(op, target, exc.errno, exc.strerror or str(exc)) from exc


def create_netns(name: str) -> None:
    """Create a named namespace (like `ip netns add`). Raises NetlinkError if it exists."""
    if os.path.exists(netns_path(name)):
        raise NetlinkError("create netns", name, "already exists", "pick another name or remove it")
    with _kernel("create netns", name):
        _netns.create(name)


def remove_netns(name: str) -> bool:
    """Remove a named namespace (like `ip netns del`); False if it was already gone."""
    if not os.path.exists(netns_path(name)):
        return False
    with _kernel("remove netns", name):
        _netns.remove(name)
    return True


def list_netns() -> list[str]:
    return sorted(_netns.listnetns())


@dataclass(frozen=True, slots=True)
class Address:
    ifname: str
    ip: IPAddr
    prefix: int


@dataclass(frozen=True, slots=True)
class Route:
    """A unicast route in the main table. `dst` None = default. `oif` is a link name."""

    dst: IPNet | None
    oif: str | None
    gateway: IPAddr | None = None
    metric: int | None = None
    prefsrc: IPAddr | None = None
    proto: int = RTPROT_BOOT  # what `ip route add` uses; RTPROT_KERNEL: derived from an address
    scope: int = 0
    family: int = AF_INET


@dataclass(frozen=True, slots=True)
class Neighbour:
    ifname: str
    ip: IPAddr
    mac: str | None
    state: int


class Netlink:
    """One rtnetlink socket in one namespace. Use as a context manager; not thread-safe."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        where = netns or "own namespace"
        if netns is not None and not os.path.exists(netns_path(netns)):
            raise LinkNotFound(
                "open netns", where, "no such network namespace", "is the pod/node still there?"
            )
        with _kernel("open netlink socket in", where):
            self._ipr: Any = IPRoute(netns=netns_path(netns), flags=0) if netns else IPRoute()

    def close(self) -> None:
        self._ipr.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self, name: str) -> str:
        return f"{name} (netns {self.netns})" if self.netns else name

    # ---- links ---------------------------------------------------------------------------

    def links(self) -> list[Link]:
        with _kernel("list links in", self.netns or "own namespace"):
            return [_link(m) for m in self._ipr.get_links()]

    def link(self, name: str) -> Link | None:
        """The link called `name`, or None."""
        with _kernel("look up", self._where(name)):
            found = self._ipr.link_lookup(ifname=name)
            if not found:
                return None
            return _link(self._ipr.get_links(found[0])[0])

    def link_by_index(self, index: int) -> Link | None:
        try:
            with _kernel("look up", self._where(f"ifindex {index}")):
                return _link(self._ipr.get_links(index)[0])
        except LinkNotFound:
            return None

    def require(self, name: str) -> Link:
        found = self.link(name)
        if found is None:
            raise LinkNotFound("look up", self._where(name), "no such link", "check the configured NIC name")
        return found

    def add_veth(self, name: str, peer: str, *, mac: str | None = None) -> None:
        """A veth pair in this namespace; `mac` (optional) goes on `peer`."""
        spec: dict[str, Any] = {"ifname": peer}
        if mac:
            spec["address"] = mac
        with _kernel("create veth", self._where(f"{name}/{peer}")):
            self._ipr.link("add", ifname=name, kind="veth", peer=spec)

    def add_bridge(self, name: str, *, mac: str | None = None) -> None:
        kw: dict[str, Any] = {"ifname": name, "kind": "bridge"}
        if mac:
            kw["address"] = mac
        with _kernel("create bridge", self._where(name)):
            self._ipr.link("add", **kw)

    def add_vlan(self, name: str, parent: str, vid: int) -> None:
        lower = self.require(parent).index
        with _kernel("create vlan", self._where(f"{name} (vid {vid} on {parent})")):
            self._ipr.link("add", ifname=name, kind="vlan", link=lower, vlan_id=vid)

    def add_macvlan(self, name: str, parent: str, *, mac: str | None = None) -> None:
        """A macvlan child of `parent` in bridge mode (children reach each other, not the parent)."""
        lower = self.require(parent).index
        kw: dict[str, Any] = {"ifname": name, "kind": "macvlan", "link": lower, "macvlan_mode": "bridge"}
        if mac:
            kw["address"] = mac
        with _kernel("create macvlan", self._where(f"{name} on {parent}")):
            self._ipr.link("add", **kw)

    def set_link(
        self,
        name: str,
        *,
        up: bool | None = None,
        mtu: int | None = None,
        mac: str | None = None,
        master: str | None = None,
        nomaster: bool = False,
        new_name: str | None = None,
    ) -> None:
        index = self.require(name).index
        kw: dict[str, Any] = {}
        if mtu is not None:
            kw["mtu"] = mtu
        if mac is not None:
            kw["address"] = mac
        if master is not None:
            kw["master"] = self.require(master).index
        if nomaster:
            kw["master"] = 0
        if new_name is not None:
            kw["ifname"] = new_name
        if kw:
            with _kernel("configure", self._where(name)):
                self._ipr.link("set", index=index, **kw)
        if up is not None:
            with _kernel("bring up" if up else "bring down", self._where(name)):
                self._ipr.link("set", index=index, state="up" if up else "down")

    def move_link(self, name: str, netns: str | None, *, new_name: str | None = None) -> None:
        """Move `name` into `netns` (None = this process's own namespace), renaming it on the way."""
        index = self.require(name).index
        target = netns_path(netns) if netns else "/proc/self/ns/net"
        kw: dict[str, Any] = {}
        if new_name:
            kw["ifname"] = new_name
        fd = None
        with _kernel("move", self._where(name) + f" to {netns or 'the root namespace'}"):
            fd = os.open(target, os.O_RDONLY)
            try:
                self._ipr.link("set", index=index, net_ns_fd=fd, **kw)
            finally:
                os.close(fd)

    def delete_link(self, name: str) -> bool:
        """Delete `name`; False if it was not there (idempotent)."""
        found = self.link(name)
        if found is None:
            return False
        try:
            with _kernel("delete", self._where(name)):
                self._ipr.link("del", index=found.index)
        except LinkNotFound:
            return False
        return True

    # ---- addresses -----------------------------------------------------------------------

    def addresses(self, name: str | None = None) -> list[Address]:
        names = {lk.index: lk.name for lk in self.links()}
        with _kernel("list addresses in", self._where(name or "*")):
            kw: dict[str, Any] = {}
            if name is not None:
                kw["index"] = self.require(name).index
            msgs = self._ipr.get_addr(**kw)
        return [
            Address(
                names.get(m["index"], str(m["index"])), ip_address(m.get_attr("IFA_ADDRESS")), m["prefixlen"]
            )
            for m in msgs
        ]

    def add_address(self, name: str, ip: IPAddr, prefix: int) -> None:
        index = self.require(name).index
        kw: dict[str, Any] = {}
        if ip.version == 6:
            kw["flags"] = IFA_F_NODAD  # the floating IP must work right away
        with _kernel("add address", self._where(f"{ip}/{prefix} on {name}")):
            self._ipr.addr("add", index=index, address=str(ip), prefixlen=prefix, **kw)

    def del_address(self, name: str, ip: IPAddr, prefix: int) -> bool:
        found = self.link(name)
        if found is None:
            return False
        try:
            with _kernel("delete address", self._where(f"{ip}/{prefix} on {name}")):
                self._ipr.addr("del", index=found.index, address=str(ip), prefixlen=prefix)
        except NetlinkError as exc:
            if exc.code == errno.EADDRNOTAVAIL:
                return False
            raise
        return True

    # ---- routes --------------------------------------------------------------------------

    def routes(self, family: int = AF_INET) -> list[Route]:
        """Unicast routes of the main table."""
        names = {lk.index: lk.name for lk in self.links()}
        with _kernel("list routes in", self.netns or "own namespace"):
            msgs = self._ipr.get_routes(family=family, table=RT_TABLE_MAIN)
        out = []
        for m in msgs:
            if m["type"] != RTN_UNICAST:
                continue
            dst = m.get_attr("RTA_DST")
            gw = m.get_attr("RTA_GATEWAY")
            src = m.get_attr("RTA_PREFSRC")
            oif = m.get_attr("RTA_OIF")
            out.append(
                Route(
                    dst=ip_network(f"{dst}/{m['dst_len']}") if dst else None,
                    oif=names.get(oif) if oif else None,
                    gateway=ip_address(gw) if gw else None,
                    metric=m.get_attr("RTA_PRIORITY"),
                    prefsrc=ip_address(src) if src else None,
                    proto=m["proto"],
                    scope=m["scope"],
                    family=family,
                )
            )
        return out

    def _route_args(self, route: Route) -> dict[str, Any]:
        kw: dict[str, Any] = {"family": route.family, "proto": route.proto, "scope": route.scope}
        kw["dst"] = str(route.dst) if route.dst else ("0.0.0.0/0" if route.family == AF_INET else "::/0")
        if route.oif:
            kw["oif"] = self.require(route.oif).index
        if route.gateway:
            kw["gateway"] = str(route.gateway)
        if route.metric is not None:
            kw["priority"] = route.metric
        if route.prefsrc:
            kw["prefsrc"] = str(route.prefsrc)
        return kw

    def add_route(self, route: Route) -> None:
        with _kernel("add route", self._where(_show(route))):
            self._ipr.route("add", **self._route_args(route))

    def del_route(self, route: Route) -> bool:
        """Delete `route`; False if it was not there."""
        try:
            kw = self._route_args(route)
        except LinkNotFound:
            return False
        try:
            with _kernel("delete route", self._where(_show(route))):
                self._ipr.route("del", **kw)
        except LinkNotFound:
            return False
        except NetlinkError as exc:
            if exc.code == errno.ESRCH:
                return False
            raise
        return True

    # ---- neighbours, bridge ports, SR-IOV ------------------------------------------------

    def neighbours(self, name: str) -> list[Neighbour]:
        index = self.require(name).index
        with _kernel("list neighbours of", self._where(name)):
            msgs = self._ipr.get_neighbours(ifindex=index)
        return [
            Neighbour(name, ip_address(m.get_attr("NDA_DST")), m.get_attr("NDA_LLADDR"), m["state"])
            for m in msgs
            if m.get_attr("NDA_DST")
        ]

    def fdb(self, bridge: str) -> dict[str, str]:
        """MAC → port name of the learned (non-permanent) entries of `bridge`."""
        br = self.require(bridge).index
        names = {lk.index: lk.name for lk in self.links()}
        with _kernel("list fdb of", self._where(bridge)):
            msgs = self._ipr.fdb("dump", master=br)
        out: dict[str, str] = {}
        for m in msgs:
            if m.get_attr("NDA_MASTER") != br or m["state"] & NUD_PERMANENT:
                continue
            out[m.get_attr("NDA_LLADDR")] = names.get(m["ifindex"], str(m["ifindex"]))
        return out

    def set_vf(self, pf: str, vf: int, *, mac: str | None = None, vlan: int | None = None) -> None:
        """Program VF `vf` of PF `pf` through the PF (what `ip link set PF vf N mac M vlan V` does)."""
        index = self.require(pf).index
        spec: dict[str, Any] = {"vf": vf}
        if mac is not None:
            spec["mac"] = mac
        if vlan is not None:
            spec["vlan"] = vlan
        with _kernel("configure", self._where(f"{pf} vf {vf}")):
            self._ipr.link("set", index=index, vf=spec)


def _link(m: Any) -> Link:
    kind = m.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") or ""
    vid = m.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA", "IFLA_VLAN_ID") if kind == "vlan" else None
    master = m.get_attr("IFLA_MASTER")
    parent = m.get_attr("IFLA_LINK")
    return Link(
        index=m["index"],
        name=m.get_attr("IFLA_IFNAME"),
        kind=kind,
        mac=m.get_attr("IFLA_ADDRESS") or "",
        mtu=m.get_attr("IFLA_MTU") or 0,
        up=bool(m["flags"] & IFF_UP),
        master=master or None,
        parent=parent or None,
        vlan_id=vid,
    )


def _show(route: Route) -> str:
    text = str(route.dst) if route.dst else "default"
    if route.gateway:
        text += f" via {route.gateway}"
    if route.oif:
        text += f" dev {route.oif}"
    return text
