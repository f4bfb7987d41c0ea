"""Macvlan mode: the pod's interface is a macvlan child (bridge mode) of `parent` or `parent.N`.

No host bridge and no veth: frames go straight from the pod to the NIC. Pods on one parent reach
each other through the macvlan's internal bridge, and the wire reaches them all, but the *host*
(its addresses on `parent`) cannot talk to its own macvlan pods and vice versa — the kernel never
loops frames between a macvlan child and its lower device. Consequences, documented in README:
kubelet probes to the pod IP and Service traffic through the host stack do not work; ClusterIP
for these pods is handled inside the pod by `bpf/` (tc programs on the pod's interface).

Plug steps (fault-hook names): vlan-parent, macvlan, pod-link, address, routes, announce.
The child is created on the host under a staging name (so a crash never leaves an `eth0` on the
host) and moved into the pod under `ifname`.
"""

from __future__ import annotations

import os

from bridge import pod
from bridge.driver import FaultHook, PlugRequest, PlugResult
from bridge.errors import CheckFailed, DatapathError, LinkNotFound
from bridge.mac import pod_mac
from bridge.names import staging, vlan_parent
from bridge.netlink import Netlink, netns_path
from bridge.undo import UndoStack
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
        temp = staging(req.container_id, req.ifname)
        undo = UndoStack(self._fault)
        with Netlink(self.host_netns) as host:
            try:
                undo.step("vlan-parent")
                lower = ensure_vlan_parent(host, self.parent, req.network.vlan, undo)
                if host.require(lower).master is not None:
                    raise DatapathError(
                        f"macvlan parent {lower} is a bridge port (was this node set up in bridge mode?); "
                        "a NIC serves one mode: release it from the bridge or use mode bridge"
                    )
                undo.step("macvlan")
                host.add_macvlan(temp, lower, mac=mac)
                undo.push(f"delete macvlan {temp}", lambda: host.delete_link(temp))
                if req.network.mtu:
                    host.set_link(temp, mtu=req.network.mtu)
                undo.step("pod-link")
                # pushed first: the kernel can move the link and then fail the rename (name taken)
                undo.push(
                    f"delete our macvlan in {req.netns_path}",
                    lambda: _delete_in_pod(req.netns_path, (req.ifname, temp), mac),
                )
                host.move_link(temp, req.netns_path, new_name=req.ifname)
                pod.configure(req, mac, undo)
                undo.forget()
            except BaseException as exc:
                undo.rollback(exc)  # while `host` is still open
                raise
        state = {"mode": self.name, "lower": lower, "vlan": str(req.network.vlan), "mac": mac}
        return PlugResult(req.ifname, mac, req.netns_path, None, state)

    def unplug(self, container_id: str, netns_path: str | None, ifname: str, state: dict[str, str]) -> None:
        with Netlink(self.host_netns) as host:
            host.delete_link(staging(container_id, ifname))
        if netns_path:
            _delete_in_pod(netns_path, (ifname, staging(container_id, ifname)), state.get("mac"))

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


def _delete_in_pod(netns_path: str, names: tuple[str, ...], mac: str | None) -> None:
    """Delete our macvlan from the pod, under any of `names` (idempotent; the netns may be gone).

    Only a macvlan (with our `mac`, when known) is deleted: never a link the pod had before.
    """
    try:
        with Netlink(netns_path) as pod_nl:
            for name in names:
                link = pod_nl.link(name)
                if link is not None and link.kind == "macvlan" and (mac is None or link.mac == mac):
                    pod_nl.delete_link(name)
    except LinkNotFound:
        return
