"""What the two netlink paths share: the link record, the errno map and the rtnetlink constants.

`bridge.rtnl` (raw rtnetlink, the plug / unplug hot path) and `bridge.netlink` (pyroute2, the
rare and complex work) describe the same kernel objects. Both return this `Link`, turn a refused
request into the same error (`kernel_error`) and take their numbers from here, so a caller never
has to know which path answered, and a constant fixed once is fixed for both. Opening sockets is
not done here: `bridge.rtnl` is the only module that opens an AF_NETLINK socket itself
(`bridge.netlink` has pyroute2 open its own; see the raw-netlink contract in .importlinter).
The values are the kernel's ABI (linux/rtnetlink.h, if_link.h, if_addr.h, neighbour.h).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from bridge.errors import LinkNotFound, NetlinkError

NETNS_RUN_DIR = "/var/run/netns"

# address families (linux/socket.h), for route and message families
AF_UNSPEC, AF_INET, AF_INET6 = 0, 2, 10

# netlink message header: types and flags (linux/netlink.h, rtnetlink.h)
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_NEWROUTE = 20, 24
RTMGRP_LINK = 0x1

# links (linux/if_link.h, if.h)
IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_LINKINFO = 1, 3, 4, 5, 10, 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE = 1, 4
IFLA_VLAN_ID = 1

# addresses and routes (linux/if_addr.h, rtnetlink.h)
IFA_ADDRESS, IFA_LOCAL, IFA_F_NODAD = 1, 2, 0x02
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
RT_TABLE_MAIN = 254
RTPROT_KERNEL, RTPROT_BOOT = 2, 3  # kernel: derived from an address; boot: what `ip route add` makes
RTN_UNICAST = 1

# neighbours (linux/neighbour.h)
NUD_PERMANENT = 0x80

NOT_FOUND = frozenset({errno.ENODEV, errno.ENOENT})


@dataclass(frozen=True, slots=True)
class Link:
    """A network device as either path reports it."""

    index: int
    name: str
    kind: str  # "" for plain devices (e.g. a real NIC)
    mac: str
    mtu: int
    up: bool
    master: int | None  # ifindex of the bridge this link is enslaved to
    parent: int | None = None  # IFLA_LINK: the lower device of a vlan / macvlan / veth peer
    vlan_id: int | None = None


def netns_path(netns: str) -> str:
    """A namespace name → its file under /var/run/netns; paths (`/proc/<pid>/ns/net`) pass through."""
    return netns if "/" in netns else f"{NETNS_RUN_DIR}/{netns}"


def kernel_error(op: str, target: str, code: int | None, reason: str = "") -> NetlinkError:
    """The error for a request the kernel refused with errno `code` (`reason` overrides its text):
    `LinkNotFound` for ENODEV / ENOENT (the object or namespace is missing), else `NetlinkError`."""
    text = reason or (os.strerror(code) if code else "refused")
    if code in NOT_FOUND:
        return LinkNotFound(op, target, text, "check the name and the namespace", code)
    return NetlinkError(op, target, text, code=code)
