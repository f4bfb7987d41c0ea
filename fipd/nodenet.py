"""Which subnets (L2 domains) this node sits in, and whether an allocation may be plugged here.

An annotation is outside input (anyone who may patch pods can write one), so fipd plugs an IP
only if it lies in a Subnet whose node selection matches this node, with that subnet's prefix,
gateway and VLAN. The node's subnets come from the Subnet resources and this Node's labels and
InternalIPs; they are cached for `ttl` seconds and re-read once on a miss (a subnet created a
moment ago), so the usual ADD costs no API call for them.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import Any

from fip.core.annotation import Allocation
from fip.core.errors import InvalidInput
from fip.core.spec import parse_subnet
from fip.core.subnet import IPAddress, Subnet

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class NotOnThisNode(Exception):
    """The allocation cannot be plugged on this node; `str()` says why and what to check."""


class NodeSubnets:
    """`list_subnets()` returns Subnet resources; `get_node()` this node's Node object."""

    def __init__(
        self,
        node: str,
        list_subnets: Callable[[], list[Obj]],
        get_node: Callable[[], Obj],
        clock: Callable[[], float],
        ttl: float = 30.0,
    ) -> None:
        self.node = node
        self._list_subnets = list_subnets
        self._get_node = get_node
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._subnets: dict[str, Subnet] = {}
        self._loaded_at: float | None = None

    def subnets(self, *, refresh: bool = False) -> dict[str, Subnet]:
        with self._lock:
            now = self._clock()
            if refresh or self._loaded_at is None or now - self._loaded_at > self._ttl:
                self._subnets = self._load()
                self._loaded_at = now
            return self._subnets

    def _load(self) -> dict[str, Subnet]:
        node = self._get_node()
        meta = node.get("metadata") or {}
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        ips: list[IPAddress] = []
        for addr in (node.get("status") or {}).get("addresses") or []:
            if addr.get("type") == "InternalIP":
                try:
                    ips.append(ipaddress.ip_address(str(addr.get("address"))))
                except ValueError:
                    continue
        mine: dict[str, Subnet] = {}
        for obj in self._list_subnets():
            try:
                subnet = parse_subnet(obj)
            except InvalidInput as err:
                log.warning("ignoring invalid Subnet: %s", err)
                continue
            if subnet.nodes.matches(labels, tuple(ips)):
                mine[subnet.name] = subnet
        return mine

    def admit(self, alloc: Allocation) -> Subnet:
        """The node subnet the allocation belongs to; NotOnThisNode if it may not be plugged here."""
        subnet = self.subnets().get(alloc.subnet)
        if subnet is None:
            subnet = self.subnets(refresh=True).get(alloc.subnet)
        mine = self.subnets()
        if subnet is None:
            have = ", ".join(f"{s.name} ({s.cidr}, vlan {s.vlan})" for s in mine.values()) or "none"
            raise NotOnThisNode(
                f"IP {alloc.ip} of subnet {alloc.subnet!r} cannot live on node {self.node}: the node is "
                f"not in that subnet (node's subnets: {have}); the pod was bound to the wrong node or "
                "the Subnet's nodeSelector / nodeCIDRs changed; delete the pod so it is scheduled again"
            )
        if alloc.ip not in subnet.cidr or alloc.prefix != subnet.cidr.prefixlen:
            raise NotOnThisNode(
                f"IP {alloc.ip}/{alloc.prefix} is outside subnet {subnet.name} ({subnet.cidr}) of node "
                f"{self.node}; the allocation annotation does not match its subnet (edited by hand?)"
            )
        if alloc.gateway != subnet.gateway:
            raise NotOnThisNode(
                f"gateway {alloc.gateway} of IP {alloc.ip} is not subnet {subnet.name}'s gateway "
                f"{subnet.gateway}"
            )
        if alloc.vlan != subnet.vlan:
            vlans = sorted({s.vlan for s in mine.values()})
            raise NotOnThisNode(
                f"VLAN {alloc.vlan} of IP {alloc.ip} is not on node {self.node}: subnet {subnet.name} uses "
                f"VLAN {subnet.vlan} (node's VLANs: {', '.join(map(str, vlans))})"
            )
        return subnet
