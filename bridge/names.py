"""Interface names fip makes on a node, derived from the container so they survive restarts.

Linux caps names at 15 bytes (IFNAMSIZ 16 with the NUL). The hash of (container id, ifname)
keeps two interfaces of one pod apart and makes a repeated DEL find the same name.
"""

from __future__ import annotations

import hashlib

IFNAMSIZ = 15


def _tag(container_id: str, ifname: str) -> str:
    return hashlib.sha256(f"{container_id}/{ifname}".encode()).hexdigest()[:11]


def host_veth(container_id: str, ifname: str) -> str:
    """The host end of a pod's veth (bridge mode): `fip` + 11 hex."""
    return "fip" + _tag(container_id, ifname)


def staging(container_id: str, ifname: str) -> str:
    """The temporary host-side name older fips gave the pod end before moving it into the pod
    (`fit` + 11 hex); plugs now create it in the pod directly, unplug still removes a leftover."""
    return "fit" + _tag(container_id, ifname)


def host_bridge(vlan: int) -> str:
    """The node's bridge for a VLAN: `fipbr0` untagged, `fipbr<N>` for VLAN N."""
    return f"fipbr{vlan}"


def vlan_parent(parent: str, vlan: int) -> str:
    """`parent.N`, shortened from the left of `parent` if the result would exceed IFNAMSIZ."""
    suffix = f".{vlan}"
    return parent[: IFNAMSIZ - len(suffix)] + suffix
