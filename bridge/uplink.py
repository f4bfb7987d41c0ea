"""Host-side uplinks shared by the pods of one VLAN: the `parent.N` sub-interface.

VLAN N traffic leaves through `parent.N` (an 802.1Q sub-interface of the node NIC). If a link of
that name already exists (made by the operator, by an earlier plug, or emulated by the lab), it is
reused as is and never deleted by fip. Otherwise plug creates it and pushes its removal on the
undo stack; a successful plug leaves it for the next pods of the VLAN (unplug never removes it).

A kernel without CONFIG_VLAN_8021Q cannot create it; the error says so.
"""

from __future__ import annotations

import errno

from bridge.errors import DatapathError, NetlinkError
from bridge.names import vlan_parent
from bridge.netlink import Netlink
from bridge.undo import UndoStack


def ensure_vlan_parent(host: Netlink, parent: str, vlan: int, undo: UndoStack) -> str:
    """The link pods of `vlan` hang off: `parent` itself for 0, else `parent.N` (made if missing)."""
    host.require(parent)
    if vlan == 0:
        return parent
    name = vlan_parent(parent, vlan)
    if host.link(name) is None:
        try:
            host.add_vlan(name, parent, vlan)
        except NetlinkError as exc:
            if exc.code == errno.EOPNOTSUPP:
                raise DatapathError(
                    f"create VLAN {vlan} sub-interface {name} on {parent}: the kernel has no 802.1Q support "
                    "(CONFIG_VLAN_8021Q); enable it, or create the link yourself (fip reuses an existing one)"
                ) from exc
            raise
        undo.push(f"delete VLAN sub-interface {name}", lambda: host.delete_link(name))
    host.set_link(name, up=True)
    return name
