"""Macvlan mode: the pod's interface is a macvlan child (bridge mode) of `parent` or `parent.N`.

No host bridge and no veth: frames go straight from the pod to the NIC. Pods on one parent reach
each other through the macvlan's internal bridge, and the wire reaches them all, but the *host*
(its addresses on `parent`) cannot talk to its own macvlan pods and vice versa — the kernel never
loops frames between a macvlan child and its lower device. Consequences, documented in README:
kubelet probes to the pod IP and Service traffic through the host stack do not work; ClusterIP
for these pods is handled inside the pod by `bpf/` (tc programs on the pod's interface).

Plug steps (fault-hook names): vlan-parent, macvlan, pod-link, address, routes, announce.
The child is created directly inside the pod namespace under `ifname` (IFLA_NET_NS_FD on the
create request): it never exists on the host, and nothing moves between namespaces (a move costs
~15 ms, the create ~0.4 ms). Older fips created it on the host under a staging name and moved
it; unplug still removes such a leftover.
"""

from __future__ import annotations

import contextlib
import os

from bridge import pod
from bridge.driver import FaultHook, PlugRequest, PlugResult
from bridge.errors import CheckFailed, DatapathError, LinkNotFound
from bridge.linkinfo import Link, netns_path
from bridge.mac import pod_mac
from bridge.names import staging, vlan_parent
from bridge.netlink import Netlink
from bridge.rtnl import Rtnl
from bridge.undo import UndoStack
from bridge.unlink import delete_announced
from bridge.uplink import ensure_vlan_parent


class MacvlanDriver:
    name = "macvlan"
    steps: tuple[str, ...] = ("vlan-parent", "macvlan", "pod-link", "address", "routes", "announce")

    def __init__(self, parent: str, *, host_netns: str | None = None, fault: FaultHook | None = None) -> None:
        self.parent = parent
        self.host_netns = host_netns
        self._fault = fault

    def plug(self, req: PlugRequest) -> PlugResult:
        mac = pod_mac(req.network.ip)
        undo = UndoStack(self._fault)
        with contextlib.ExitStack() as opened:
            host = opened.enter_context(Rtnl(self.host_netns))
            pod_nl = opened.enter_context(Rtnl(req.netns_path))
            with undo:  # rolls back while the sockets are still open
                undo.step("vlan-parent")
                lower = self._ready_lower(host, req.network.vlan)
                if lower is None:  # first plug of this VLAN: the sub-interface may have to be made
                    slow = opened.enter_context(Netlink(self.host_netns))
                    name = ensure_vlan_parent(slow, self.parent, req.network.vlan, undo)
                    lower = host.link(name)
                    if lower is None:
                        raise LinkNotFound("look up", host.where(name), "macvlan parent vanished", "retry")
                if lower.master is not None:
                    raise DatapathError(
                        f"macvlan parent {lower.name} is a bridge port (was this node set up in bridge "
                        "mode?); a NIC serves one mode: release it from the bridge or use mode bridge"
                    )
                undo.step("macvlan")
                host.add_macvlan(req.ifname, lower=lower.index, mac=mac, mtu=req.network.mtu,
                                 netns=req.netns_path)  # fmt: skip
                undo.push(
                    f"delete our macvlan in {req.netns_path}",
                    lambda: _delete_ours(pod_nl, (req.ifname,), mac),
                )
                undo.step("pod-link")
                pod.configure(req, mac, undo, pod_nl)
        state = {"mode": self.name, "lower": lower.name, "vlan": str(req.network.vlan), "mac": mac}
        return PlugResult(req.ifname, mac, req.netns_path, None, state)

    def _ready_lower(self, host: Rtnl, vlan: int) -> Link | None:
        """The link the pods of `vlan` hang off when nothing has to be made (one lookup), else None."""
        if vlan == 0:
            found = host.link(self.parent)
            if found is None:
                raise LinkNotFound("look up", host.where(self.parent), "no such link",
                                   "check the configured NIC name")  # fmt: skip
            return found
        found = host.link(vlan_parent(self.parent, vlan))
        return found if found is not None and found.up else None

    def unplug(self, container_id: str, netns_path: str | None, ifname: str, state: dict[str, str]) -> None:
        """Delete our macvlan from the pod (under `ifname`, or the staging name an older fip may
        have left). Returns once the kernel has announced it gone (see `bridge.unlink`)."""
        temp = staging(container_id, ifname)
        with Rtnl(self.host_netns) as host:
            host.delete(temp)  # left by a plug of an older fip, if any
        if not netns_path:
            return
        try:
            with Rtnl(netns_path) as pod_nl:
                found = [pod_nl.link(name) for name in (ifname, temp)]
        except LinkNotFound:  # the pod namespace is gone, and our macvlan with it
            return
        for link in found:
            if link is not None and link.kind == "macvlan" and state.get("mac") in (None, link.mac):
                delete_announced(netns_path, link.index, link.name, [(netns_path, link.index)])

    def check(self, req: PlugRequest, state: dict[str, str]) -> None:
        diffs = pod.differences(req, pod_mac(req.network.ip))
        lower = state.get("lower") or (
            vlan_parent(self.parent, req.network.vlan) if req.network.vlan else self.parent
        )
        if os.path.exists(netns_path(req.netns_path)):
            with Netlink(req.netns_path) as pod_nl:
                link = pod_nl.link(req.ifname)
                if link is not None and link.kind != "macvlan":
                    diffs.append(
                        f"{req.ifname} is a {link.kind or 'plain'} link, expected a macvlan on {lower}"
                    )
        with Netlink(self.host_netns) as host:
            if host.link(lower) is None:
                diffs.append(f"macvlan parent {lower} missing on the host")
        if diffs:
            raise CheckFailed(req.container_id, diffs)


def _delete_ours(pod_nl: Rtnl, names: tuple[str, ...], mac: str | None) -> None:
    """Delete our macvlan from the pod, under any of `names` (idempotent).

    Only a macvlan (with our `mac`, when known) is deleted: never a link the pod had before.
    """
    for name in names:
        link = pod_nl.link(name)
        if link is not None and link.kind == "macvlan" and (mac is None or link.mac == mac):
            pod_nl.delete_index(link.index, name)
