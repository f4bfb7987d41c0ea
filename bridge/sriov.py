"""SR-IOV mode: a free virtual function (VF) of the physical function (PF) becomes the pod's NIC.

Free VF = a `virtfn<N>` of the PF whose netdev is still in the host namespace (sysfs lists a
device's netdev only in its own namespace; we also confirm over netlink). Plug programs the VF's
MAC and VLAN *through the PF* (the NIC's embedded switch then tags and filters for it), gives the
VF netdev the same MAC, and moves it into the pod renamed to `ifname`. Unplug moves it back under
its original name (kept in `state`) and resets MAC and VLAN. If the pod namespace died first, the
kernel has already returned the VF netdev to the host under some name; unplug finds it through
sysfs and renames it back.

Nothing writes `sriov_numvfs`: enabling VFs is a node provisioning step (README). The sysfs root
is configurable so tests can use a fake tree
(`<root>/class/net/<pf>/device/virtfn<N>/net/<netdev>`), and the PF-side programming goes through
a `VfControl`, so tests can stand in for the embedded switch. **No SR-IOV hardware exists on
the development machines: this mode is tested only with veth stand-ins for VF netdevs.**

Plug steps (fault-hook names): vf-pick, vf-config, pod-link, address, routes, announce.
"""

from __future__ import annotations

import os
import re
import threading

from bridge import pod
from bridge.driver import FaultHook, PlugRequest, PlugResult, VfControl
from bridge.errors import CheckFailed, LinkNotFound, NoFreeVF
from bridge.mac import pod_mac
from bridge.netlink import Netlink
from bridge.rtnl import Rtnl
from bridge.undo import UndoStack

__all__ = ["NetlinkVfControl", "SriovDriver", "VfControl"]


class NetlinkVfControl:
    """The real one: `ip link set PF vf N mac M vlan V` over netlink, in the host namespace."""

    def __init__(self, host_netns: str | None = None) -> None:
        self.host_netns = host_netns

    def configure(self, pf: str, vf: int, mac: str, vlan: int) -> None:
        with Netlink(self.host_netns) as host:
            host.set_vf(pf, vf, mac=mac, vlan=vlan)

    def reset(self, pf: str, vf: int) -> None:
        with Netlink(self.host_netns) as host:
            host.set_vf(pf, vf, mac="00:00:00:00:00:00", vlan=0)


class SriovDriver:
    name = "sriov"
    steps: tuple[str, ...] = ("vf-pick", "vf-config", "pod-link", "address", "routes", "announce")

    def __init__(
        self,
        pf: str,
        *,
        host_netns: str | None = None,
        sysfs_root: str = "/sys",
        fault: FaultHook | None = None,
        vf_control: VfControl | None = None,
    ) -> None:
        self.pf = pf
        self.host_netns = host_netns
        self.sysfs_root = sysfs_root
        self._fault = fault
        self.vf_control: VfControl = vf_control or NetlinkVfControl(host_netns)
        self._lock = threading.Lock()

    # ---- sysfs ---------------------------------------------------------------------------

    def _device_dir(self) -> str:
        return os.path.join(self.sysfs_root, "class", "net", self.pf, "device")

    def vf_netdevs(self) -> dict[int, list[str]]:
        """VF index → netdev names sysfs lists for it (empty list: none visible here)."""
        dev = self._device_dir()
        try:
            entries = os.listdir(dev)
        except FileNotFoundError:
            raise LinkNotFound(
                "read SR-IOV VFs of", self.pf, f"{dev} does not exist", "is it an SR-IOV capable PF?"
            ) from None
        out: dict[int, list[str]] = {}
        for entry in entries:
            m = re.fullmatch(r"virtfn(\d+)", entry)
            if m is None:
                continue
            try:
                out[int(m.group(1))] = sorted(os.listdir(os.path.join(dev, entry, "net")))
            except FileNotFoundError:
                out[int(m.group(1))] = []
        return dict(sorted(out.items()))

    def _pick(self, host: Netlink) -> tuple[int, str]:
        vfs = self.vf_netdevs()
        for index, names in vfs.items():
            for name in names:
                if host.link(name) is not None:
                    return index, name
        raise NoFreeVF(
            f"PF {self.pf}: no free VF ({len(vfs)} VFs, none with a netdev left on the host); "
            f"enable more with `echo N > {self._device_dir()}/sriov_numvfs` or free some pods"
        )

    # ---- plug / unplug / check -----------------------------------------------------------

    def plug(self, req: PlugRequest) -> PlugResult:
        mac, vlan = pod_mac(req.network.ip), req.network.vlan
        undo = UndoStack(self._fault)
        # `undo` is innermost: it rolls back while `host` is still open
        with self._lock, Netlink(self.host_netns) as host, undo:
            undo.step("vf-pick")
            host.require(self.pf)
            index, vf_name = self._pick(host)
            before = host.require(vf_name)
            undo.step("vf-config")
            undo.push(f"reset VF {index} of {self.pf}", lambda: self.vf_control.reset(self.pf, index))
            self.vf_control.configure(self.pf, index, mac, vlan)
            undo.push(
                f"restore {vf_name}", lambda: _restore(host, vf_name, before.mac, before.mtu, before.up)
            )
            host.set_link(vf_name, up=False)
            host.set_link(vf_name, mac=mac, mtu=req.network.mtu)
            undo.step("pod-link")
            # pushed first: the kernel can move the link and then fail the rename (name taken)
            undo.push(
                f"return the VF to the host as {vf_name}",
                lambda: self._return(req.netns_path, (req.ifname, vf_name), vf_name, mac),
            )
            host.move_link(vf_name, req.netns_path, new_name=req.ifname)
            with Rtnl(req.netns_path) as pod_nl:
                pod.configure(req, mac, undo, pod_nl)
        state = {
            "mode": self.name,
            "pf": self.pf,
            "vf": str(index),
            "vf_ifname": vf_name,
            "vf_mac": before.mac,
            "mac": mac,
        }
        return PlugResult(req.ifname, mac, req.netns_path, None, state)

    def _return(self, netns_path: str, names: tuple[str, ...], vf_name: str, mac: str | None) -> bool:
        """Move our VF from the pod (under any of `names`) back to the host as `vf_name`.

        Only the link carrying our `mac` (when known) is moved: never a link the pod had before.
        False if none is there (already returned, or the pod namespace is gone).
        """
        try:
            with Netlink(netns_path) as pod_nl:
                for name in names:
                    link = pod_nl.link(name)
                    if link is not None and (mac is None or link.mac == mac):
                        pod_nl.set_link(name, up=False)
                        pod_nl.move_link(name, self.host_netns, new_name=vf_name)
                        return True
        except LinkNotFound:
            return False
        return False

    def unplug(self, container_id: str, netns_path: str | None, ifname: str, state: dict[str, str]) -> None:
        if "vf" not in state or "vf_ifname" not in state:
            return  # plug never completed: its own rollback cleaned up
        index, vf_name = int(state["vf"]), state["vf_ifname"]
        with self._lock:
            if netns_path:
                self._return(netns_path, (ifname,), vf_name, state.get("mac"))
            with Netlink(self.host_netns) as host:
                if host.link(vf_name) is None:
                    # the pod netns died first: the kernel returned the VF under another name
                    for name in self.vf_netdevs().get(index, []):
                        if name != vf_name and host.link(name) is not None:
                            host.set_link(name, up=False)
                            host.set_link(name, new_name=vf_name)
                            break
                if host.link(vf_name) is not None:
                    host.set_link(vf_name, up=False)
                    if state.get("vf_mac"):
                        _set_mac(host, vf_name, state["vf_mac"])
            self.vf_control.reset(self.pf, index)

    def check(self, req: PlugRequest, state: dict[str, str]) -> None:
        diffs = pod.differences(req, pod_mac(req.network.ip))
        vf_name = state.get("vf_ifname", "")
        with Netlink(self.host_netns) as host:
            if vf_name and host.link(vf_name) is not None:
                diffs.append(f"VF netdev {vf_name} is on the host, not in the pod")
        if diffs:
            raise CheckFailed(req.container_id, diffs)


def _set_mac(host: Netlink, name: str, mac: str) -> None:
    if host.link(name) is not None:
        host.set_link(name, mac=mac)


def _restore(host: Netlink, name: str, mac: str, mtu: int, up: bool) -> None:
    """Put a VF netdev back as it was before plug (if it is on the host)."""
    if host.link(name) is not None:
        host.set_link(name, up=False)
        host.set_link(name, mac=mac, mtu=mtu)
        if up:
            host.set_link(name, up=True)
