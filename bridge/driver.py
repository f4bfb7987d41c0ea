"""The one interface fipd uses to put a floating IP into a pod, whatever the node's mode.

This module is the interface only (requests, results, the `Driver` protocol); it imports no
driver. `bridge.make_driver` (the registry in bridge/__init__.py) builds the driver for a mode.
Three modes implement `Driver` (one module each, as containernetworking/plugins does):

- `bridge`  (`linuxbridge.py`): a host bridge per VLAN, the pod on a veth pair;
- `macvlan` (`macvlan.py`): a macvlan child (bridge mode) of the parent NIC or its `parent.N`;
- `sriov`   (`sriov.py`): a free VF of the PF, moved into the pod as `ifname`.

Contract every driver keeps (fipd relies on it):

- `plug` either succeeds completely or leaves nothing it made behind (an undo stack runs on any
  failure, also on `InjectedFault`). It then sends `garp_count` gratuitous ARPs (IPv4) or
  unsolicited neighbour advertisements (IPv6) from inside the pod.
- `PlugResult.state` is small plain strings; fipd persists it and hands it back to `unplug` /
  `check`, also after a fipd restart. Drivers must not keep anything in memory across calls.
- `unplug` is idempotent: it succeeds when the pod netns, the interface or the host side is already
  gone (kubelet retries DEL; a test runs it twice). Shared host objects (the per-VLAN bridge, the
  `parent.N` sub-interface) are left in place: other pods use them.
- `check` raises `CheckFailed` listing every difference (link, MAC, address, default route,
  service route); it changes nothing.
- Errors are `bridge.errors.DatapathError` subclasses with operator-readable messages.

`host_netns`: when set (the lab runs one fipd per simulated node from the root namespace), every
host-side operation (parent lookup, bridges, VLAN sub-interfaces, veth host ends) happens inside
that named netns (a name under /var/run/netns). Pod netns paths are files such as
`/var/run/netns/<name>` or `/proc/<pid>/ns/net`.

`fault`: a test hook called with each plug step's name before the step runs; raising there (e.g.
`InjectedFault`) exercises the rollback. Each driver lists its step names in `steps`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Protocol

FaultHook = Callable[[str], None]


class Mode(enum.StrEnum):
    BRIDGE = "bridge"
    MACVLAN = "macvlan"
    SRIOV = "sriov"


@dataclass(frozen=True, slots=True)
class PodNetwork:
    """What to plug: the floating IP and its subnet's L2/L3 facts.

    `vlan` 0 means untagged. `service_cidr`, when set, gets its own route via `gateway` so that
    ClusterIP traffic leaves through `ifname` (bpf/ rewrites it there for macvlan / SR-IOV pods).
    `mtu` None keeps the parent's MTU.
    """

    ip: IPv4Address | IPv6Address
    prefix: int
    gateway: IPv4Address | IPv6Address
    vlan: int = 0
    service_cidr: IPv4Network | IPv6Network | None = None
    mtu: int | None = None


@dataclass(frozen=True, slots=True)
class PlugRequest:
    """One CNI ADD / CHECK: which container, its netns path, the interface name in it, and what to plug."""

    container_id: str
    netns_path: str
    ifname: str
    network: PodNetwork
    garp_count: int = 3


@dataclass(frozen=True, slots=True)
class PlugResult:
    """What plug made. `sandbox` is the netns path; `host_ifname` the host-side veth (bridge mode
    only, else None); `state` must be persisted by the caller and given back to unplug/check."""

    ifname: str
    mac: str
    sandbox: str
    host_ifname: str | None
    state: dict[str, str] = field(default_factory=dict)


class Driver(Protocol):
    """plug / unplug / check for one datapath mode on one node (see the module docstring)."""

    name: str
    steps: tuple[str, ...]

    def plug(self, req: PlugRequest) -> PlugResult: ...

    def unplug(
        self, container_id: str, netns_path: str | None, ifname: str, state: dict[str, str]
    ) -> None: ...

    def check(self, req: PlugRequest, state: dict[str, str]) -> None: ...


class VfControl(Protocol):
    """SR-IOV: programs a VF through its PF (the NIC's embedded switch); `bridge.sriov` has the
    netlink one, the lab (`lab.sriovfake`) one over its switch."""

    def configure(self, pf: str, vf: int, mac: str, vlan: int) -> None: ...

    def reset(self, pf: str, vf: int) -> None: ...
