"""Deterministic pod MACs.

A pod's MAC is derived from its IP, as the reference CNI plugins do (`0a:58:<IPv4 bytes>`): the
same floating IP always has the same MAC on whichever node it lands, so a neighbour that kept the
old entry is still right, and nobody needs to store the MAC. `0a` sets the locally-administered
bit and clears the multicast bit. IPv6 uses the low four bytes of the address.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address


def pod_mac(ip: IPv4Address | IPv6Address) -> str:
    """`0a:58:` + the IP's last four bytes, lower-case, colon-separated."""
    tail = ip.packed[-4:]
    return ":".join(f"{b:02x}" for b in (0x0A, 0x58, *tail))


def mac_bytes(mac: str) -> bytes:
    """Parse "aa:bb:cc:dd:ee:ff" into 6 bytes; raises ValueError on anything else."""
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError(f"MAC {mac!r} must have 6 colon-separated bytes")
    return bytes(int(p, 16) for p in parts)
