"""fipd's ClusterIP side: one object the daemon calls at CNI ADD and DEL, plus the map sync.

    hook = ClusterIP.start("tc", Settings(...), kube, pod_modes={"macvlan", "sriov"})
    hook.restore(plugged_pods)          # fipd restarted: swap the new programs in, no gap
    hook.plugged(netns, "eth0", "macvlan", "ns/pod")    # at ADD, after the plug
    hook.unplugged(netns, "eth0")                        # at DEL, before the unplug
    hook.stop()

Modes: `tc` attaches the tc programs to the pod's interface (inside its namespace) for pods of
`pod_modes` (macvlan and SR-IOV by default: they bypass the host stack and its kube-proxy; add
`bridge` to serve bridge pods too); `socket` lists the pod's network namespace (by cookie) for the
cgroup programs, attached once to `cgroup`. Both share the pinned maps the sync keeps current.

Never raises into the daemon: a node without bcc, BPF or kernel headers gets one error line at
start and runs without ClusterIP (`available` False, `reason` says why); a pod whose attach fails
gets a warning line naming it and is plugged anyway — ClusterIP is unavailable for that pod, not
the pod's network. The `fip_clusterip_pods` gauge counts pods by outcome.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections.abc import Iterable
from typing import Any

from prometheus_client import Gauge

from bpf import netns, tc
from bpf.errors import BpfError
from bpf.loader import Datapath, Settings, remove_pins
from bpf.sync import ServiceSync
from bridge.errors import DatapathError

log = logging.getLogger(__name__)
PODS = Gauge("fip_clusterip_pods", "Pods by ClusterIP outcome on this node", ["state"])
MODES = ("tc", "socket")
NODE_LABEL = "fip.io/clusterip"  # per-node choice: tc | socket | off


def add_arguments(p: argparse.ArgumentParser) -> None:
    """fipd's ClusterIP flags (kept here so fipd's parser stays small)."""
    p.add_argument(
        "--clusterip", choices=["auto", "tc", "socket", "off"], default="auto",
        help=f"ClusterIP for fip pods: tc programs on the pod interface, socket (cgroup connect) mode, "
        f"or off; auto = the Node label {NODE_LABEL}, else tc on macvlan/sriov nodes with --service-cidr",
    )  # fmt: skip
    p.add_argument("--clusterip-bridge", action="store_true", help="tc mode also for bridge-mode pods")
    p.add_argument("--bpf-pin-dir", help="bpffs directory of the pinned maps (default /sys/fs/bpf/fip, "
                   "or /sys/fs/bpf/fip-<host netns> with --host-netns)")  # fmt: skip
    p.add_argument("--bpf-cgroup", default="", help="cgroup2 directory for socket mode (default: the root)")
    p.add_argument("--bpf-services-max", type=int, default=16384, help="Service ports the maps hold")
    p.add_argument("--bpf-backends-max", type=int, default=65536, help="backends the maps hold")
    p.add_argument("--bpf-ct-max", type=int, default=131072, help="tracked connections (LRU)")


def from_args(args: argparse.Namespace, kube: Any) -> ClusterIP:
    """The hook fipd's flags and its Node ask for (never raises; `off` gives an inert hook)."""
    mode = args.clusterip
    if mode == "auto":
        mode = _node_choice(kube, args.node) or (
            "tc" if args.mode in ("macvlan", "sriov") and args.service_cidr else "off"
        )
    pod_modes = {"macvlan", "sriov"} | ({"bridge"} if args.clusterip_bridge else set())
    if mode == "off":
        return ClusterIP("off", pod_modes=pod_modes, reason="ClusterIP is off on this node")
    pins = args.bpf_pin_dir or ("/sys/fs/bpf/fip" + (f"-{args.host_netns}" if args.host_netns else ""))
    if args.host_netns and not args.bpf_pin_dir:
        _remove_stale_lab_pins()
    settings = Settings(pin_dir=pins, services_max=args.bpf_services_max,
                        backends_max=args.bpf_backends_max, ct_max=args.bpf_ct_max)  # fmt: skip
    return ClusterIP.start(
        mode, settings, kube, cgroup=args.bpf_cgroup or _cgroup2_root(), pod_modes=pod_modes
    )


def _remove_stale_lab_pins(root: str = "/sys/fs/bpf") -> None:
    """The lab runs one fipd per simulated node, pinning under fip-<node netns>: pins of nodes
    whose namespace is gone (an earlier lab) are removed, or every lab run would leave its maps
    (tens of MiB of kernel memory) behind."""
    if not os.path.isdir(root):
        return
    for name in os.listdir(root):
        netns_name = name.removeprefix("fip-")
        if name.startswith("fip-") and not os.path.exists(f"/var/run/netns/{netns_name}"):
            if name.startswith(("fip-test-", "fip-bench-")):
                continue  # a test or benchmark of this machine owns those
            try:
                remove_pins(os.path.join(root, name))
            except OSError as err:  # another fipd of the lab got there first
                log.debug("ClusterIP: stale pins %s: %s", name, err)
                continue
            log.info("ClusterIP: removed the pinned maps of gone lab node %s", netns_name)


def _node_choice(kube: Any, node: str) -> str:
    from fip.kube.errors import NotFound

    try:
        labels = ((kube.get_node(node).get("metadata") or {}).get("labels")) or {}
    except NotFound:  # not registered yet (the kubelet does that): the mode's default applies
        log.info("ClusterIP: node %s has no Node object yet; label %s not read", node, NODE_LABEL)
        return ""
    except Exception as err:  # the API may be slow to come; auto falls back to the mode's default
        log.warning("ClusterIP: cannot read node %s for label %s: %s", node, NODE_LABEL, err)
        return ""
    choice = str(labels.get(NODE_LABEL, ""))
    if choice and choice not in (*MODES, "off"):
        log.warning(
            "ClusterIP: node label %s=%s is not tc, socket or off; using the default", NODE_LABEL, choice
        )
        return ""
    return choice


def _cgroup2_root() -> str:
    hybrid = "/sys/fs/cgroup/unified"
    return hybrid if os.path.ismount(hybrid) else "/sys/fs/cgroup"


class ClusterIP:
    def __init__(
        self,
        mode: str,
        *,
        datapath: Datapath | None = None,
        sync: ServiceSync | None = None,
        cgroup: str = "",
        pod_modes: Iterable[str] = ("macvlan", "sriov"),
        reason: str = "",
    ) -> None:
        self.mode = mode
        self.datapath = datapath
        self.sync = sync
        self.cgroup = cgroup
        self.pod_modes = frozenset(pod_modes)
        self.reason = reason
        self._cookies: dict[str, int] = {}
        self._lock = threading.Lock()
        self._attached: set[tuple[str, str]] = set()
        self._failed: set[tuple[str, str]] = set()

    @property
    def available(self) -> bool:
        return self.datapath is not None

    @classmethod
    def start(
        cls,
        mode: str,
        settings: Settings,
        kube: Any,
        *,
        cgroup: str = "/sys/fs/cgroup",
        pod_modes: Iterable[str] = ("macvlan", "sriov"),
    ) -> ClusterIP:
        """Compile, load, (socket mode) attach to `cgroup`, start the sync. Never raises."""
        if mode not in MODES:
            return cls(mode, pod_modes=pod_modes, reason=f"ClusterIP mode {mode!r} is off")
        try:
            dp = Datapath.open(settings)
        except BpfError as err:
            log.error("ClusterIP unavailable on this node (pods are plugged without it): %s", err)
            return cls(mode, pod_modes=pod_modes, reason=str(err))
        if mode == "socket":
            try:
                dp.attach_cgroup(cgroup)
            except BpfError as err:
                log.error("ClusterIP unavailable on this node (socket mode): %s", err)
                dp.close()
                return cls(mode, pod_modes=pod_modes, reason=str(err))
        sync = ServiceSync.for_client(kube, dp.maps, settings.limits).start()
        log.info("ClusterIP %s mode ready (maps pinned under %s)", mode, settings.pin_dir)
        return cls(mode, datapath=dp, sync=sync, cgroup=cgroup, pod_modes=pod_modes)

    def serves(self, driver_mode: str) -> bool:
        return self.mode == "socket" or driver_mode in self.pod_modes

    def plugged(self, netns_path: str, ifname: str, driver_mode: str, who: str) -> bool:
        """Give a freshly plugged pod ClusterIP. False (and a warning) when it could not."""
        if self.mode not in MODES or not self.serves(driver_mode):
            return False
        key = (netns_path, ifname)
        try:
            if self.datapath is None:
                raise BpfError(self.reason)
            if self.mode == "tc":
                tc.attach(netns_path, ifname, *self.datapath.tc_fds())
            else:
                cookie = netns.cookie(netns_path)
                self.datapath.maps.add_pod(cookie)
                with self._lock:
                    self._cookies[netns_path] = cookie
        except (BpfError, DatapathError) as err:
            log.warning("pod %s: ClusterIP unavailable for this pod: %s", who, err)
            self._count(key, ok=False)
            return False
        self._count(key, ok=True)
        return True

    def unplugged(self, netns_path: str | None, ifname: str) -> None:
        """Take a pod's ClusterIP away (idempotent; a gone namespace is fine)."""
        if netns_path is None:
            return
        key = (netns_path, ifname)
        with self._lock:
            self._attached.discard(key)
            self._failed.discard(key)
            cookie = self._cookies.pop(netns_path, None)
        self._gauge()
        if self.datapath is None:
            return
        try:
            if self.mode == "tc":
                tc.detach(netns_path, ifname)
            elif self.mode == "socket":
                if cookie is None:
                    cookie = netns.cookie(netns_path)
                self.datapath.maps.remove_pod(cookie)
        except (BpfError, DatapathError) as err:  # the netns went first: nothing is left to remove
            log.debug("ClusterIP detach from %s %s: %s", netns_path, ifname, err)

    def restore(self, pods: Iterable[tuple[str, str, str, str]]) -> int:
        """At start: (netns, ifname, driver mode, who) of every plugged pod get the new programs
        (tc: an atomic replace of the old ones) or their cookie listed again. Returns how many."""
        done = 0
        for netns_path, ifname, driver_mode, who in pods:
            done += self.plugged(netns_path, ifname, driver_mode, who)
        if done:
            log.info("ClusterIP restored for %d plugged pod(s)", done)
        return done

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "available": self.available, "reason": self.reason}
        with self._lock:
            out.update(pods=len(self._attached), unavailable_pods=len(self._failed))
        if self.sync is not None:
            out["sync"] = self.sync.status()
        return out

    def stop(self) -> None:
        """Stop the sync and close our fds; programs, cgroup links and pinned maps stay."""
        if self.sync is not None:
            self.sync.stop(timeout=2.0)
        if self.datapath is not None:
            self.datapath.close()

    def _count(self, key: tuple[str, str], *, ok: bool) -> None:
        with self._lock:
            (self._attached if ok else self._failed).add(key)
            (self._failed if ok else self._attached).discard(key)
        self._gauge()

    def _gauge(self) -> None:
        with self._lock:
            PODS.labels("attached").set(len(self._attached))
            PODS.labels("unavailable").set(len(self._failed))
