"""A bare rtnetlink socket for the plug / unplug hot path (no pyroute2).

Why it exists: a CNI ADD or DEL is a handful of netlink requests, and what they cost is decided
here. Measured on the 2-vCPU lab VM (kernel 6.18, pyroute2 0.9.7):

- `IPRoute(netns=path)` ~4.6 ms per socket (pyroute2 sets the namespace up in a helper); a plain
  `socket(AF_NETLINK)` opened while the thread is inside the namespace (`setns`) ~0.01 ms, and it
  stays bound to that namespace for its lifetime;
- one pyroute2 request ~0.2 ms (message classes, parsers); one request here ~0.02-0.04 ms;
- moving a link into another namespace ~15 ms (RCU grace period), creating it there directly
  (`IFLA_NET_NS_FD` on the new link or on the veth peer) ~0.4-0.6 ms.

So the plug creates the pod's interface directly inside the pod namespace and talks to each
namespace through one `Rtnl`. `bridge.netlink.Netlink` (pyroute2) stays for the rare and
complex work: building a bridge, moving the node's addresses, VLAN sub-interfaces, SR-IOV, CHECK.

Errors, the `Link` record and the constants are `bridge.linkinfo`'s, shared with `bridge.netlink`
(`NetlinkError`, `LinkNotFound` for ENODEV/ENOENT), with the operation, the object and the
namespace in the message. This is the one module that opens AF_NETLINK sockets itself. Not
thread-safe: one request's thread owns an `Rtnl`.
"""

from __future__ import annotations

import os
import socket
import struct
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from bridge.errors import LinkNotFound, NetlinkError
from bridge.linkinfo import (
    AF_INET,
    AF_INET6,
    AF_UNSPEC,
    IFA_ADDRESS,
    IFA_F_NODAD,
    IFA_LOCAL,
    IFF_UP,
    IFLA_ADDRESS,
    IFLA_IFNAME,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINK,
    IFLA_LINKINFO,
    IFLA_MACVLAN_MODE,
    IFLA_MASTER,
    IFLA_MTU,
    IFLA_NET_NS_FD,
    IFLA_VLAN_ID,
    MACVLAN_MODE_BRIDGE,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    RT_TABLE_MAIN,
    RTA_DST,
    RTA_GATEWAY,
    RTA_OIF,
    RTM_DELLINK,
    RTM_GETLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    RTMGRP_LINK,
    RTN_UNICAST,
    RTPROT_BOOT,
    VETH_INFO_PEER,
    Link,
    kernel_error,
    netns_path,
)
from bridge.mac import mac_bytes
from bridge.nsenter import inside

# what other raw-netlink speakers (bpf.tc's traffic-control messages) build on
__all__ = [
    "NLM_F_ACK", "NLM_F_CREATE", "NLM_F_EXCL", "RTMGRP_LINK", "RTM_DELLINK", "Rtnl", "_attr", "_name", "_u32",
]  # fmt: skip

_HDR = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")


def _attr(kind: int, data: bytes) -> bytes:
    size = 4 + len(data)
    return struct.pack("=HH", size, kind) + data + b"\0" * (-size % 4)


def _name(kind: int, name: str) -> bytes:
    return _attr(kind, name.encode() + b"\0")


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack("=I", value))


def _ifinfo(index: int = 0, up: bool = False) -> bytes:
    return _IFINFO.pack(AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP if up else 0)


def _attrs(data: bytes) -> dict[int, bytes]:
    out, pos = {}, 0
    while pos + 4 <= len(data):
        size, kind = struct.unpack_from("=HH", data, pos)
        if size < 4:
            break
        out[kind & 0x3FFF] = data[pos + 4 : pos + size]
        pos += (size + 3) & ~3
    return out


class Rtnl:
    """One rtnetlink socket in `netns` (name or path; None = the calling thread's namespace)."""

    def __init__(self, netns: str | None = None, *, groups: int = 0) -> None:
        """`groups`: multicast groups to join (e.g. `RTMGRP_LINK` to hear links come and go)."""
        self.netns = netns
        self._seq = 0
        try:
            with inside(netns):
                self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        except OSError as exc:
            raise NetlinkError("open netlink socket in", netns or "own namespace", str(exc)) from exc
        self._sock.bind((0, groups))

    def fileno(self) -> int:
        return self._sock.fileno()

    def events(self) -> list[tuple[int, int, int]]:
        """One read of multicast messages: (message type, ifinfomsg family, ifindex) each.
        Raises OSError (ENOBUFS) when the kernel had to drop some: the caller lost track."""
        data, out, pos = self._sock.recv(65536), [], 0
        while pos + 32 <= len(data):
            size, mtype, _, _, _ = _HDR.unpack_from(data, pos)
            family, _, index, _, _ = _IFINFO.unpack_from(data, pos + 16)
            out.append((mtype, family, index))
            pos += (size + 3) & ~3
        return out

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def where(self, what: str) -> str:
        return f"{what} (netns {self.netns})" if self.netns else what

    def _call(self, kind: int, flags: int, body: bytes, op: str, target: str) -> bytes | None:
        """Send one request; the reply message's payload (GET) or None (an ACK)."""
        self._seq += 1
        self._sock.send(_HDR.pack(16 + len(body), kind, NLM_F_REQUEST | flags, self._seq, 0) + body)
        while True:
            data = self._sock.recv(65536)
            pos = 0
            while pos + 16 <= len(data):
                size, mtype, _, seq, _ = _HDR.unpack_from(data, pos)
                payload = data[pos + 16 : pos + size]
                pos += (size + 3) & ~3
                if seq != self._seq:
                    continue
                if mtype != NLMSG_ERROR:
                    return payload
                code = -struct.unpack_from("=i", payload)[0]
                if code == 0:
                    return None
                raise kernel_error(op, self.where(target), code)

    # ---- links ---------------------------------------------------------------------------

    def link(self, name: str) -> Link | None:
        """The link called `name`, or None."""
        try:
            reply = self._call(RTM_GETLINK, 0, _ifinfo() + _name(IFLA_IFNAME, name), "look up", name)
        except LinkNotFound:
            return None
        assert reply is not None
        _, _, index, flags, _ = _IFINFO.unpack_from(reply)
        attrs = _attrs(reply[16:])
        info = _attrs(attrs.get(IFLA_LINKINFO, b""))
        kind = info.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode()
        vid = _attrs(info.get(IFLA_INFO_DATA, b"")).get(IFLA_VLAN_ID) if kind == "vlan" else None
        return Link(
            index=index,
            name=attrs[IFLA_IFNAME].rstrip(b"\0").decode(),
            kind=kind,
            mac=":".join(f"{b:02x}" for b in attrs.get(IFLA_ADDRESS, b"")),
            mtu=_u32_of(attrs.get(IFLA_MTU)) or 0,
            up=bool(flags & IFF_UP),
            master=_u32_of(attrs.get(IFLA_MASTER)),
            parent=_u32_of(attrs.get(IFLA_LINK)),
            vlan_id=struct.unpack("=H", vid[:2])[0] if vid else None,
        )

    def add_veth(
        self, name: str, *, master: int, mtu: int, peer: str, peer_mac: str, peer_netns: str
    ) -> None:
        """A veth pair: `name` here (up, port of bridge index `master`), `peer` created directly in
        namespace `peer_netns` (down, MAC `peer_mac`) — nothing ever moves."""
        fd = _open_netns(peer_netns, "create veth", self.where(f"{name}/{peer}"))
        try:
            peer_msg = _ifinfo() + _name(IFLA_IFNAME, peer) + _attr(IFLA_ADDRESS, mac_bytes(peer_mac))
            peer_msg += _u32(IFLA_MTU, mtu) + _u32(IFLA_NET_NS_FD, fd)
            info = _attr(IFLA_INFO_KIND, b"veth") + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer_msg))
            body = _ifinfo(up=True) + _name(IFLA_IFNAME, name) + _u32(IFLA_MTU, mtu)
            body += _u32(IFLA_MASTER, master) + _attr(IFLA_LINKINFO, info)
            target = f"{name} (peer {peer} in {peer_netns})"
            self._call(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body, "create veth", target)
        finally:
            os.close(fd)

    def add_macvlan(self, name: str, *, lower: int, mac: str, mtu: int | None, netns: str) -> None:
        """A macvlan (mode bridge) of link index `lower`, created directly in `netns` as `name`."""
        fd = _open_netns(netns, "create macvlan", name)
        try:
            data = _attr(IFLA_INFO_DATA, _u32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE))
            body = _ifinfo() + _name(IFLA_IFNAME, name) + _u32(IFLA_LINK, lower)
            body += _attr(IFLA_ADDRESS, mac_bytes(mac)) + _u32(IFLA_NET_NS_FD, fd)
            if mtu:
                body += _u32(IFLA_MTU, mtu)
            body += _attr(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, b"macvlan") + data)
            target = f"{name} in {netns} (lower ifindex {lower})"
            self._call(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body, "create macvlan", target)
        finally:
            os.close(fd)

    def set_up(self, index: int, name: str, *, mtu: int | None = None) -> None:
        body = _ifinfo(index, up=True) + (_u32(IFLA_MTU, mtu) if mtu else b"")
        self._call(RTM_NEWLINK, NLM_F_ACK, body, "bring up", name)

    def delete(self, name: str) -> bool:
        """Delete link `name`; False if there was none (idempotent)."""
        try:
            self._call(RTM_DELLINK, NLM_F_ACK, _ifinfo() + _name(IFLA_IFNAME, name), "delete", name)
        except LinkNotFound:
            return False
        return True

    def delete_index(self, index: int, name: str) -> bool:
        try:
            self._call(RTM_DELLINK, NLM_F_ACK, _ifinfo(index), "delete", name)
        except LinkNotFound:
            return False
        return True

    # ---- addresses and routes ------------------------------------------------------------

    def add_address(self, index: int, name: str, ip: IPv4Address | IPv6Address, prefix: int) -> None:
        """`ip/prefix` on link `index`; IPv6 without DAD (the floating IP must work at once)."""
        fam = AF_INET if ip.version == 4 else AF_INET6
        flags = IFA_F_NODAD if ip.version == 6 else 0
        body = struct.pack("=BBBBI", fam, prefix, flags, 0, index)
        body += _attr(IFA_LOCAL, ip.packed) + _attr(IFA_ADDRESS, ip.packed)
        target = f"{ip}/{prefix} on {name}"
        self._call(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body, "add address", target)

    def add_route(
        self,
        index: int,
        name: str,
        dst: IPv4Network | IPv6Network | None,
        gateway: IPv4Address | IPv6Address,
    ) -> None:
        """`dst` (None = default) via `gateway` dev `index`, main table, proto boot."""
        fam = AF_INET if gateway.version == 4 else AF_INET6
        dst_len = dst.prefixlen if dst else 0
        body = struct.pack("=BBBBBBBBI", fam, dst_len, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST, 0)
        if dst is not None:
            body += _attr(RTA_DST, dst.network_address.packed)
        body += _attr(RTA_GATEWAY, gateway.packed) + _u32(RTA_OIF, index)
        target = f"{dst or 'default'} via {gateway} dev {name}"
        self._call(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body, "add route", target)


def _u32_of(value: bytes | None) -> int | None:
    """A u32 attribute, None when absent or 0 (no master, no lower device)."""
    return (struct.unpack("=I", value[:4])[0] or None) if value else None


def _open_netns(netns: str, op: str, target: str) -> int:
    try:
        return os.open(netns_path(netns), os.O_RDONLY)
    except OSError as exc:
        reason = f"network namespace {netns}: {exc.strerror}"
        raise LinkNotFound(op, target, reason, "is the pod still there?", exc.errno) from None
