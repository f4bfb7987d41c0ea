"""A failure at any plug step leaves nothing behind: no link, address, route or state.

For every mode and every step the driver names (`driver.steps`), a fault hook raises
`InjectedFault` right before that step; the test compares a snapshot (links with kind, master,
state, MAC and MTU; addresses; routes) of the node namespace and of the pod namespace taken
before the plug with one taken after the failed plug. The node starts with its address and a
default route on eth1, so bridge mode's move of the node's L3 onto the bridge is covered: a
failure after the move must put them back on eth1. Also covered: a real kernel error in the
middle (the pod already has an `eth0`).
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from bridge.driver import FaultHook
from bridge.errors import DatapathError, InjectedFault, NetlinkError
from bridge.netlink import Netlink
from lab.netsnapshot import snapshot
from lab.topology import PodLab

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
        reason="needs root (network namespaces)",
    ),
]


def _fail_at(step: str) -> FaultHook:
    def hook(name: str) -> None:
        if name == step:
            raise InjectedFault(step)

    return hook


@pytest.mark.parametrize("vlan", [0, 100])
def test_fault_at_each_plug_step_leaves_nothing_behind(env: PodLab, vlan: int) -> None:
    pod_ns = env.net.add_netns("pod")
    req = env.request(pod_ns, vlan)
    steps = [s for s in env.driver().steps if not (s == "bridge-addresses" and vlan != 0)]  # VLAN 0 only
    for step in steps:
        node_before, pod_before = snapshot(env.node.netns), snapshot(pod_ns)
        with pytest.raises(InjectedFault) as err:
            env.driver(fault=_fail_at(step)).plug(req)
        assert not getattr(err.value, "__notes__", None), err.value.__notes__  # every undo action worked
        assert snapshot(env.node.netns).diff(node_before) == [], f"node after a fault at {step!r}"
        assert snapshot(pod_ns).diff(pod_before) == [], f"pod after a fault at {step!r}"
    # and after all that, a clean plug still works
    result = env.driver().plug(req)
    assert env.net.ping(pod_ns, str(req.network.gateway))
    env.driver().unplug(req.container_id, req.netns_path, req.ifname, result.state)


def test_steps_are_actually_reached(env: PodLab) -> None:
    """Guards the test above: the hook sees every step name of a first plug of VLAN 0."""
    seen: list[str] = []
    pod_ns = env.net.add_netns("pod")
    req = env.request(pod_ns, 0)
    result = env.driver(fault=seen.append).plug(req)
    assert seen == list(env.driver().steps)
    env.driver().unplug(req.container_id, req.netns_path, req.ifname, result.state)


def test_kernel_error_midway_rolls_back(env: PodLab) -> None:
    pod_ns = env.net.add_netns("pod")
    with Netlink(pod_ns) as nl:
        nl.add_veth("eth0", "other")  # the pod already has an eth0: creating / moving ours in fails
    node_before, pod_before = snapshot(env.node.netns), snapshot(pod_ns)
    with pytest.raises(NetlinkError, match=r"create veth|create macvlan|move") as err:
        env.driver().plug(env.request(pod_ns, 0))
    assert not getattr(err.value, "__notes__", None)
    assert snapshot(env.node.netns).diff(node_before) == []
    assert snapshot(pod_ns).diff(pod_before) == []


def test_a_vlan_without_a_sub_interface_is_created_or_explained(env: PodLab) -> None:
    """VLAN 300 has no `eth1.300` on the node: plug creates it (kernel with 802.1Q) and a later
    failure removes it again; on a kernel without 802.1Q (like the development VMs) plug fails
    with a message naming CONFIG_VLAN_8021Q. Either way, nothing is left behind."""
    pod_ns = env.net.add_netns("pod")
    base = env.request(pod_ns, 0)
    req = dataclasses.replace(base, network=dataclasses.replace(base.network, vlan=300))
    node_before = snapshot(env.node.netns)
    with pytest.raises(DatapathError) as err:
        env.driver(fault=_fail_at("announce")).plug(req)
    if isinstance(err.value, InjectedFault):  # the kernel made eth1.300; the rollback removed it
        assert not getattr(err.value, "__notes__", None)
    else:
        assert "CONFIG_VLAN_8021Q" in str(err.value)
        assert "eth1.300" in str(err.value)
    assert snapshot(env.node.netns).diff(node_before) == []
