"""A network namespace's cookie: how socket mode recognises a fip pod's sockets.

The cgroup programs see `bpf_get_netns_cookie(ctx)`; userspace gets the same 64-bit value with
`getsockopt(SO_NETNS_COOKIE)` on any socket made inside the namespace (Linux >= 5.14). Cookies
are never reused while the machine runs, so a stale entry in the pods map can never match a new
pod; fipd still removes the entry at CNI DEL.
"""

from __future__ import annotations

import socket
import struct

from bpf.errors import AttachFailed
from bridge.errors import DatapathError
from bridge.nsenter import inside

SO_NETNS_COOKIE = 71


def cookie(netns: str) -> int:
    """The cookie of `netns` (a name or a path). Raises AttachFailed if it cannot be read."""
    try:
        with inside(netns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with sock:
            raw = sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8)
    except (OSError, DatapathError) as err:
        raise AttachFailed(f"read the network namespace cookie of {netns}: {err}") from err
    return int(struct.unpack("=Q", raw)[0])
