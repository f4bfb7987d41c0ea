"""Announce a floating IP from inside its pod: gratuitous ARP (IPv4) or unsolicited NA (IPv6).

When an IP moves to another node, the switch must learn the MAC's new port and the neighbours
must refresh their entries, before anyone waits for an ARP timeout. We send, from the pod's own
interface:

- IPv4: ARP *requests* with sender = target = the IP, to the broadcast MAC (RFC 5227 "ARP
  announcement"). Linux neighbours update an existing entry from it (arp_accept only governs
  creating new ones), and every switch on the path relearns the source MAC's port.
- IPv6: unsolicited neighbour advertisements to ff02::1 with the Override flag and the target
  link-layer address option (RFC 4861 7.2.6). The kernel fills in the ICMPv6 checksum.

The sockets are opened inside the pod namespace (see `bridge.nsenter`), so nothing on the host
needs the pod's interface. Needs CAP_NET_RAW in the pod namespace's owner (root in fipd).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from ipaddress import IPv4Address, IPv6Address

from bridge.errors import DatapathError
from bridge.mac import mac_bytes
from bridge.nsenter import inside

ETH_P_ARP = 0x0806
_BROADCAST = b"\xff" * 6
_ALL_NODES = "ff02::1"


def arp_announcement(ip: IPv4Address, mac: str) -> bytes:
    """One Ethernet frame: broadcast ARP request, sender = target = `ip`, from `mac`."""
    hw = mac_bytes(mac)
    eth = _BROADCAST + hw + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + ip.packed + b"\x00" * 6 + ip.packed
    return eth + arp


def neighbour_advertisement(ip: IPv6Address, mac: str) -> bytes:
    """ICMPv6 NA body (checksum left 0 for the kernel): Override set, target LL address option."""
    flags = 0x20000000  # O (override); not S: unsolicited
    return struct.pack("!BBHI", 136, 0, 0, flags) + ip.packed + struct.pack("!BB", 2, 1) + mac_bytes(mac)


def announce(
    netns: str, ifname: str, ip: IPv4Address | IPv6Address, mac: str, *, count: int, interval: float = 0.02
) -> None:
    """Send `count` announcements of `ip`/`mac` out of `ifname` in `netns` (0 = none)."""
    if count <= 0:
        return
    try:
        with inside(netns):
            if ip.version == 4:
                # protocol 0: a send-only socket. With a protocol the kernel hooks the socket into
                # receive at creation and unhooks it on bind, waiting for an RCU grace period.
                sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
                sock.bind((ifname, 0))
            else:
                sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(ifname))
                sock.bind((str(ip), 0))
    except OSError as exc:
        raise DatapathError(f"open announce socket on {ifname} in {netns}: {exc.strerror or exc}") from exc
    try:
        for n in range(count):
            if ip.version == 4:
                sock.send(arp_announcement(IPv4Address(ip), mac))
            else:
                sock.sendto(neighbour_advertisement(IPv6Address(ip), mac), (_ALL_NODES, 0))
            if n + 1 < count and interval > 0:
                time.sleep(interval)
    except OSError as exc:
        sock.close()
        raise DatapathError(f"announce {ip} on {ifname} in {netns}: {exc.strerror or exc}") from exc
    # Closing a packet socket waits for an RCU grace period (~10-30 ms here) and the frames are
    # already on the wire: let a short-lived thread wait for it instead of the caller.
    threading.Thread(target=sock.close, name="garp close", daemon=True).start()
