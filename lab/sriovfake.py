"""A stand-in SR-IOV NIC for a lab node: fake sysfs, veth "VF netdevs", a fake embedded switch.

No SR-IOV hardware exists on the development machines. This gives `bridge.sriov` everything it
looks at: a sysfs tree `<root>/class/net/<pf>/device/virtfn<N>/net/<vf>` and, in the node's
namespace, one veth per VF (named like a VF netdev, `<pf>v<N>`) whose other end is a port of the
lab switch. `FakeEswitch` plays the NIC's embedded switch: programming VF N's VLAN moves that
port into the VLAN's bridge (an access port: the tag is the switch's business, as it is the
NIC's for a real VF), and a reset moves it back to the untagged bridge.

What this does not emulate: the MAC filter a real eswitch applies, and what the kernel does to a
*physical* VF netdev when its pod namespace dies (it returns to the host; a veth is destroyed).
"""

from __future__ import annotations

import os

from bridge.errors import LinkNotFound
from bridge.netlink import Netlink
from lab.network import LabNetwork, Node


class FakeEswitch:
    """`bridge.sriov.VfControl` over the lab switch; records every call in `calls`."""

    def __init__(self, net: LabNetwork, switch: str, ports: dict[int, str]) -> None:
        self.net = net
        self.switch = switch
        self.ports = ports  # VF index -> switch port
        self.calls: list[tuple[str, int, str, int]] = []

    def configure(self, pf: str, vf: int, mac: str, vlan: int) -> None:
        self.calls.append(("configure", vf, mac, vlan))
        self.net.attach_port(self.switch, self.ports[vf], vlan)

    def reset(self, pf: str, vf: int) -> None:
        self.calls.append(("reset", vf, "00:00:00:00:00:00", 0))
        with Netlink(self.net.switches[self.switch].netns) as nl:
            if nl.link(self.ports[vf]) is None:
                return  # the veth stand-in died with its pod namespace (a real VF would not)
        try:
            self.net.attach_port(self.switch, self.ports[vf], 0)
        except LinkNotFound:
            # the kernel destroys a dead namespace's veths asynchronously: it may die just now
            with Netlink(self.net.switches[self.switch].netns) as nl:
                if nl.link(self.ports[vf]) is not None:
                    raise


def fake_sriov_nic(net: LabNetwork, node: Node, switch: str, sysfs_root: str, vfs: int) -> FakeEswitch:
    """Give `node` `vfs` stand-in VFs of PF `node.parent` under `sysfs_root`; returns the eswitch."""
    ports = {}
    device = os.path.join(sysfs_root, "class", "net", node.parent, "device")
    for index in range(vfs):
        name = f"{node.parent}v{index}"
        ports[index] = net.wire(switch, 0, node.netns, name)
        os.makedirs(os.path.join(device, f"virtfn{index}", "net", name))
    with open(os.path.join(device, "sriov_numvfs"), "w", encoding="ascii") as fh:
        fh.write(str(vfs))
    return FakeEswitch(net, switch, ports)
