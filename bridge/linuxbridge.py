"""Bridge mode: the pod sits on a veth whose host end is a port of a per-VLAN host bridge.

Host layout (in `host_netns` when given):

    VLAN 0:  parent ─ enslaved to fipbr0 (the bridge takes parent's MAC, IP addresses and routes)
    VLAN N:  parent.N ─ enslaved to fipbrN
    pod:     fip<hash> (host end, port of the bridge) ══ veth ══ ifname (pod end, MAC 0a:58:<ip>)

Moving the NIC's addresses and routes onto the untagged bridge is what keeps the node reachable
once its NIC becomes a bridge port. It happens on the first plug of VLAN 0, is undone if that
plug fails, and is otherwise permanent (other pods and the node itself rely on it).

Plug steps (fault-hook names): bridge, bridge-addresses, bridge-enslave, veth, pod-link, address,
routes, announce. Plug calls of one driver are serialised by a lock: two first plugs of a VLAN
must not both build its bridge.

The hot path (every plug but a VLAN's first) costs ~1 ms, about 0.7 of it in the kernel: three
lookups find the bridge complete, one request creates the veth with its host end up, in the
bridge, and its pod end directly in the pod namespace as `ifname` (nothing moves between
namespaces: a move costs ~15 ms), then the pod side (`pod.configure`). All through
`bridge.rtnl` sockets opened with setns; pyroute2 (`Netlink`) only builds a missing bridge.
"""

from __future__ import annotations

import contextlib
import threading

from bridge import pod
from bridge.driver import FaultHook, PlugRequest, PlugResult
from bridge.errors import CheckFailed, LinkNotFound
from bridge.linkinfo import AF_INET, AF_INET6, RTPROT_KERNEL, Link
from bridge.mac import pod_mac
from bridge.names import host_bridge, host_veth, staging, vlan_parent
from bridge.netlink import Address, Netlink, Route
from bridge.rtnl import Rtnl
from bridge.undo import UndoStack
from bridge.unlink import delete_announced
from bridge.uplink import ensure_vlan_parent


class BridgeDriver:
    name = "bridge"
    steps: tuple[str, ...] = (
        "bridge",
        "bridge-addresses",
        "bridge-enslave",
        "veth",
        "pod-link",
        "address",
        "routes",
        "announce",
    )

    def __init__(self, parent: str, *, host_netns: str | None = None, fault: FaultHook | None = None) -> None:
        self.parent = parent
        self.host_netns = host_netns
        self._fault = fault
        self._lock = threading.Lock()

    def plug(self, req: PlugRequest) -> PlugResult:
        mac = pod_mac(req.network.ip)
        host_if = host_veth(req.container_id, req.ifname)
        br = host_bridge(req.network.vlan)
        undo = UndoStack(self._fault)
        with self._lock, contextlib.ExitStack() as opened:
            host = opened.enter_context(Rtnl(self.host_netns))
            pod_nl = opened.enter_context(Rtnl(req.netns_path))
            with undo:  # rolls back while the sockets are still open
                undo.step("bridge")
                bridge = self._ready_bridge(host, br, req.network.vlan)
                if bridge is None:  # first plug of this VLAN (or something changed): the full path
                    slow = opened.enter_context(Netlink(self.host_netns))
                    self._ensure_bridge(slow, br, req.network.vlan, undo)
                    bridge = host.link(br)
                    if bridge is None:
                        raise LinkNotFound("look up", host.where(br), "bridge vanished", "retry the ADD")
                undo.step("veth")
                mtu = req.network.mtu or bridge.mtu
                host.add_veth(host_if, master=bridge.index, mtu=mtu, peer=req.ifname, peer_mac=mac,
                              peer_netns=req.netns_path)  # fmt: skip
                undo.push(f"delete veth {host_if}", lambda: host.delete(host_if))
                undo.step("pod-link")
                pod.configure(req, mac, undo, pod_nl)
        state = {
            "mode": self.name,
            "bridge": br,
            "host_ifname": host_if,
            "vlan": str(req.network.vlan),
            "mac": mac,
        }
        return PlugResult(req.ifname, mac, req.netns_path, host_if, state)

    def _ready_bridge(self, host: Rtnl, br: str, vlan: int) -> Link | None:
        """The VLAN's bridge when it is already complete (up, with its uplink as a port): the
        common case, checked with three cheap lookups; None sends plug down the full path."""
        bridge = host.link(br)
        if bridge is None or not bridge.up:
            return None
        lower = host.link(vlan_parent(self.parent, vlan) if vlan else self.parent)
        if lower is None or lower.master != bridge.index or (vlan and not lower.up):
            return None
        return bridge

    def _ensure_bridge(self, host: Netlink, br: str, vlan: int, undo: UndoStack) -> None:
        existing = host.link(br)
        lower = ensure_vlan_parent(host, self.parent, vlan, undo)
        lower_link = host.require(lower)
        if existing is not None and lower_link.master == existing.index:
            host.set_link(br, up=True)
            return
        if existing is None:
            host.add_bridge(br, mac=lower_link.mac if vlan == 0 else None)
            undo.push(f"delete bridge {br}", lambda: host.delete_link(br))
        if vlan == 0:
            undo.step("bridge-addresses")
            self._move_l3(host, lower, br, undo)
        undo.step("bridge-enslave")
        host.set_link(lower, master=br)
        undo.push(f"release {lower} from {br}", lambda: _release(host, lower))
        host.set_link(br, up=True)

    @staticmethod
    def _move_l3(host: Netlink, nic: str, br: str, undo: UndoStack) -> None:
        """Move `nic`'s global addresses and its non-kernel routes onto `br`, restorably."""
        addrs = [a for a in host.addresses(nic) if not a.ip.is_link_local]
        routes = [
            r
            for fam in (AF_INET, AF_INET6)
            for r in host.routes(fam)
            if r.oif == nic and r.proto != RTPROT_KERNEL and not (r.dst is not None and r.dst.is_link_local)
        ]

        def restore() -> None:
            for a in addrs:
                if not any(x.ip == a.ip for x in host.addresses(nic)):
                    host.add_address(nic, a.ip, a.prefix)
            present = {(r.dst, r.gateway, r.oif) for f in (AF_INET, AF_INET6) for r in host.routes(f)}
            for r in routes:
                if (r.dst, r.gateway, r.oif) not in present:
                    host.add_route(r)

        undo.push(f"restore the addresses and routes of {nic}", restore)
        for r in routes:
            host.del_route(r)
        for a in addrs:
            host.del_address(nic, a.ip, a.prefix)
        undo.push(f"remove the addresses moved onto {br}", lambda: _drop(host, br, addrs))
        for a in addrs:
            host.add_address(br, a.ip, a.prefix)
        host.set_link(br, up=True)
        for r in routes:
            host.add_route(Route(r.dst, br, r.gateway, r.metric, r.prefsrc, r.proto, r.scope, r.family))

    def unplug(self, container_id: str, netns_path: str | None, ifname: str, state: dict[str, str]) -> None:
        """Delete the veth pair (deleting one end takes the other). Returns once the kernel has
        announced both ends gone (see `bridge.unlink`), not after its ~15-20 ms of clean-up."""
        host_if = state.get("host_ifname") or host_veth(container_id, ifname)
        with Rtnl(self.host_netns) as host:
            host_end = host.link(host_if)
            host.delete(staging(container_id, ifname))  # left by a plug of an older fip, if any
        pod_end = _pod_link(netns_path, ifname, "veth", state.get("mac")) if netns_path else None
        if host_end is not None:
            watch = [(self.host_netns, host_end.index)]
            if pod_end is not None:
                watch.append((netns_path, pod_end.index))
            delete_announced(self.host_netns, host_end.index, host_if, watch)
        if netns_path and pod_end is not None:  # not the host end's peer, or no host end at all
            pod_end = _pod_link(netns_path, ifname, "veth", state.get("mac"))
            if pod_end is not None:
                delete_announced(netns_path, pod_end.index, ifname, [(netns_path, pod_end.index)])

    def check(self, req: PlugRequest, state: dict[str, str]) -> None:
        diffs = pod.differences(req, pod_mac(req.network.ip))
        host_if = state.get("host_ifname") or host_veth(req.container_id, req.ifname)
        br = state.get("bridge") or host_bridge(req.network.vlan)
        with Netlink(self.host_netns) as host:
            link, bridge = host.link(host_if), host.link(br)
            if link is None:
                diffs.append(f"host veth {host_if} missing")
            elif bridge is None or link.master != bridge.index:
                diffs.append(f"host veth {host_if} is not a port of bridge {br}")
        if diffs:
            raise CheckFailed(req.container_id, diffs)


def _release(host: Netlink, port: str) -> None:
    if host.link(port) is not None:
        host.set_link(port, nomaster=True)


def _drop(host: Netlink, link: str, addrs: list[Address]) -> None:
    for a in addrs:
        host.del_address(link, a.ip, a.prefix)


def _pod_link(netns_path: str, ifname: str, kind: str, mac: str | None) -> Link | None:
    """The pod's `ifname` if it is there, of our `kind` and (when known) with our `mac` — never a
    link someone else put there (None also when the netns is gone)."""
    try:
        with Rtnl(netns_path) as pod_nl:
            link = pod_nl.link(ifname)
    except LinkNotFound:
        return None
    if link is not None and link.kind == kind and (mac is None or link.mac == mac):
        return link
    return None
