"""bridge: the datapath — plug, unplug and check a pod's floating IP in the node's mode.

`make_driver(mode, parent, ...)` is the way in: the registry below maps each datapath mode to
the factory of its driver. It lives here, not in `bridge.driver`, so that the dependencies run
one way: each driver module imports the interface (`bridge.driver`), and only this registry
imports the drivers — `bridge.driver` imports none of them (that cycle is gone; the
acyclic-bridge contract in .importlinter keeps it so). A factory imports its driver when it is
called: fipd loads the one mode its node runs, and importing `bridge.errors` or `bridge.driver`
costs no driver, no pyroute2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bridge.driver import Driver, FaultHook, Mode, VfControl
from fip.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class DriverOptions:
    """Everything `make_driver` passes on; each factory takes what its mode uses."""

    host_netns: str | None
    fault: FaultHook | None
    sriov_sysfs_root: str
    sriov_vf_control: VfControl | None


def _linux_bridge(parent: str, opts: DriverOptions) -> Driver:
    from bridge.linuxbridge import BridgeDriver

    return BridgeDriver(parent, host_netns=opts.host_netns, fault=opts.fault)


def _macvlan(parent: str, opts: DriverOptions) -> Driver:
    from bridge.macvlan import MacvlanDriver

    return MacvlanDriver(parent, host_netns=opts.host_netns, fault=opts.fault)


def _sriov(parent: str, opts: DriverOptions) -> Driver:
    from bridge.sriov import SriovDriver

    return SriovDriver(
        parent,
        host_netns=opts.host_netns,
        sysfs_root=opts.sriov_sysfs_root,
        fault=opts.fault,
        vf_control=opts.sriov_vf_control,
    )


DRIVERS: dict[Mode, Callable[[str, DriverOptions], Driver]] = {
    Mode.BRIDGE: _linux_bridge,
    Mode.MACVLAN: _macvlan,
    Mode.SRIOV: _sriov,
}


def make_driver(
    mode: str,
    parent: str,
    *,
    host_netns: str | None = None,
    sriov_sysfs_root: str = "/sys",
    sriov_vf_control: VfControl | None = None,
    fault: FaultHook | None = None,
) -> Driver:
    """Build the driver for `mode` ("bridge", "macvlan", "sriov") over NIC `parent`.

    `parent` is the node's uplink NIC (bridge, macvlan) or the SR-IOV physical function (sriov).
    `sriov_sysfs_root` lets tests point the VF discovery at a fake tree
    (`<root>/class/net/<pf>/device/virtfn<N>/net/<vf>`) and `sriov_vf_control` replaces the
    netlink programming of VF MAC/VLAN through the PF (the lab's `lab.sriovfake` stands in for
    the NIC's embedded switch). Nothing is touched until the first call.
    """
    try:
        chosen = Mode(mode)
    except ValueError:
        raise InvalidInput(
            "mode", mode, "is not a datapath mode", "use one of: " + ", ".join(m.value for m in Mode)
        ) from None
    if not parent:
        raise InvalidInput("parent", parent, "is empty", "name the node's uplink NIC (or the SR-IOV PF)")
    return DRIVERS[chosen](parent, DriverOptions(host_netns, fault, sriov_sysfs_root, sriov_vf_control))
