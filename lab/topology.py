"""Ready-made lab topologies built with `lab.network`, shared by the privileged and e2e tests.

`single_node(mode, sysfs_root)` is the one the datapath tests use:

    switch "sw", VLANs 0 and 100
    router "gw": 10.0.1.1/24 (VLAN 0), 10.0.2.1/24 (VLAN 100), 192.168.1.1/24 (VLAN 0, node network)
    node "n1": eth1 = 192.168.1.11/24 with default via 192.168.1.1, plus eth1.100
    legacy hosts "lh0" 10.0.1.250 (VLAN 0) and "lh100" 10.0.2.250 (VLAN 100)
    mode "sriov": two stand-in VFs of PF eth1 (lab.sriovfake) under `sysfs_root`

The yielded `PodLab` makes drivers for the node and plug requests for either subnet; the whole
lab is torn down when the generator closes (also after an exception in the caller).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from bridge import make_driver
from bridge.driver import Driver, FaultHook, PlugRequest, PodNetwork
from bridge.netlink import Netlink, Route
from lab.network import LabNetwork, Node, unique_prefix
from lab.sriovfake import FakeEswitch, fake_sriov_nic

# vlan -> (cidr, gateway, legacy host address)
SUBNETS = {0: ("10.0.1.0/24", "10.0.1.1", "10.0.1.250"), 100: ("10.0.2.0/24", "10.0.2.1", "10.0.2.250")}
SERVICE_CIDR = "10.96.0.0/12"


@dataclass
class PodLab:
    net: LabNetwork
    node: Node
    mode: str
    sysfs: str
    eswitch: FakeEswitch | None

    def driver(self, fault: FaultHook | None = None, node: Node | None = None) -> Driver:
        return make_driver(
            self.mode,
            (node or self.node).parent,
            host_netns=(node or self.node).netns,
            sriov_sysfs_root=self.sysfs,
            sriov_vf_control=self.eswitch,
            fault=fault,
        )

    def request(
        self, pod_netns: str, vlan: int, host_octet: int = 17, cid: str = "c1", garp_count: int = 1
    ) -> PlugRequest:
        cidr, gw, _ = SUBNETS[vlan]
        net = ip_network(cidr)
        pod = PodNetwork(
            ip=net.network_address + host_octet,
            prefix=net.prefixlen,
            gateway=ip_address(gw),
            vlan=vlan,
            service_cidr=ip_network(SERVICE_CIDR),
        )
        return PlugRequest(cid, f"/var/run/netns/{pod_netns}", "eth0", pod, garp_count=garp_count)


def single_node(mode: str, sysfs_root: str, prefix: str | None = None) -> Iterator[PodLab]:
    with LabNetwork(prefix or unique_prefix()) as net:
        net.add_switch("sw", vlans=(0, 100))
        net.add_router(
            "gw",
            "sw",
            [(cidr, gw, vlan) for vlan, (cidr, gw, _) in SUBNETS.items()]
            + [("192.168.1.0/24", "192.168.1.1", 0)],
        )
        node = net.add_node("n1", "sw", vlans=(0, 100), node_ip="192.168.1.11/24")
        with Netlink(node.netns) as nl:
            nl.add_route(Route(dst=None, oif="eth1", gateway=ip_address("192.168.1.1")))
        for vlan, (cidr, gw, host_ip) in SUBNETS.items():
            net.add_legacy_host(f"lh{vlan}", "sw", f"{host_ip}/{cidr.split('/')[1]}", vlan=vlan, gateway=gw)
        eswitch = fake_sriov_nic(net, node, "sw", sysfs_root, vfs=2) if mode == "sriov" else None
        yield PodLab(net, node, mode, sysfs_root, eswitch)
