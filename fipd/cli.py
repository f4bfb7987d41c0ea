"""`fipd`: the node daemon's command line.

    fipd --node NAME [--mode bridge|macvlan|sriov] [--parent IFACE] [--kubeconfig PATH]
         [--host-netns NAME] [--socket PATH] [--state-dir DIR] [--redis-url URL] ...
    fipd install-cni [--bin-dir DIR] [--conf-dir DIR] ...     (the DaemonSet's init container)

Start-up order: connect to Kubernetes, start the pod cache, sweep containers whose pods are gone
(only with a successful fresh pod list; never on missing information), then open the socket.
SIGTERM / SIGINT close the socket, let the CNI requests in flight finish (up to `DRAIN` seconds;
those waiting on the API server end at once with code 11, see `fipd.stopping`) and exit;
plugged pods stay as they are. The exit cannot hang, whatever the API server does: the
process ends with `os._exit` once the requests are done (the pod cache's watch, blocked on a dead
API server, or any other daemon thread is not waited for, and no interpreter finalisation or
`atexit` hook runs in their presence), and a watchdog (`faulthandler.dump_traceback_later`)
writes every thread's stack to the log and exits with 1 if the stop itself takes longer than
`DRAIN + STOP_MARGIN` seconds. `kill -USR1` writes every thread's stack to the log at any time.
Exit codes: 0 clean stop, 2 bad arguments or configuration (message says which), 3 a thread stuck in
a pod's network namespace (`fipd.stopping.namespace_stuck`: exits at once), 1 anything else.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fip.core.errors import FipError
from fip.core.subnet import IPNetwork

if TYPE_CHECKING:
    from bpf.hook import ClusterIP
    from fipd.daemon import Daemon
    from fipd.podcache import NodePodCache
    from fipd.server import CNIServer
    from fipd.stopping import Stopping

log = logging.getLogger("fipd")
MODE_LABEL = "fip.io/mode"
DRAIN = 30.0  # seconds the CNI requests in flight at SIGTERM get to finish
STOP_MARGIN = 10.0  # seconds on top of DRAIN before the watchdog ends a stop that hangs
PARENT_ANNOTATION = "fip.io/parent"


@dataclass(frozen=True, slots=True)
class Wiring:
    daemon: Daemon
    server: CNIServer
    cache: NodePodCache | None
    live_pod_uids: Callable[[], set[str]]
    stopping: Stopping


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fipd", description="fip node daemon: serves the fip-cni plugin")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster service account)")
    p.add_argument("--node", default=os.environ.get("NODE_NAME", ""), help="this node's name (env NODE_NAME)")
    p.add_argument(
        "--mode",
        choices=["bridge", "macvlan", "sriov"],
        help=f"datapath mode (default: Node label {MODE_LABEL})",
    )
    p.add_argument("--parent", help=f"uplink NIC or SR-IOV PF (default: Node annotation {PARENT_ANNOTATION})")
    p.add_argument("--host-netns", help="do host-side work in this named netns (the lab's simulated nodes)")
    p.add_argument("--socket", default="/run/fip/fipd.sock", type=Path, help="CNI socket (mode 0600)")
    p.add_argument("--state-dir", default="/run/fip/containers", type=Path, help="per-container state")
    p.add_argument(
        "--state-fsync", action="store_true", help="fsync state files (for a disk-backed --state-dir)"
    )
    p.add_argument("--service-cidr", help="Service ClusterIP range routed via the pod's gateway")
    p.add_argument(
        "--redis-url", default=os.environ.get("FIP_REDIS_URL", ""), help="store URL (env FIP_REDIS_URL)"
    )
    p.add_argument(
        "--annotation-timeout", type=float, default=30.0, help="seconds to wait for fip.io/allocation"
    )
    p.add_argument("--garp-count", type=int, default=3, help="gratuitous ARPs sent after plugging")
    p.add_argument(
        "--garp-sync", action="store_true", help="send them before answering ADD (default: right after)"
    )
    p.add_argument(
        "--metrics-port", type=int, default=0, help="Prometheus metrics on 127.0.0.1:PORT (0 = off)"
    )
    p.add_argument(
        "--no-pod-cache", action="store_true", help="GET every pod instead of watching this node's pods"
    )
    p.add_argument("--log-level", default="INFO")
    from bpf.hook import add_arguments

    add_arguments(p)  # --clusterip and the bpf map settings (bpf/README.md)
    args = p.parse_args(argv)
    if not args.node:
        p.error("--node (or env NODE_NAME) is required")
    return args


def _service_cidr(text: str | None) -> IPNetwork | None:
    if not text:
        return None
    from fip.core.addresses import parse_network

    return parse_network("--service-cidr", text)


def node_settings(args: argparse.Namespace, node: dict[str, Any]) -> None:
    """Fill --mode / --parent from this Node (one DaemonSet serves nodes of every mode and NIC
    name: label the node `fip.io/mode=macvlan`, annotate it `fip.io/parent=ens3`)."""
    from fip.core.errors import InvalidInput

    meta = node.get("metadata") or {}
    args.mode = args.mode or (meta.get("labels") or {}).get(MODE_LABEL, "")
    args.parent = args.parent or (meta.get("annotations") or {}).get(PARENT_ANNOTATION, "")
    if args.mode not in ("bridge", "macvlan", "sriov"):
        raise InvalidInput(
            f"node {args.node} label {MODE_LABEL}", args.mode, "is not a datapath mode",
            "set it to bridge, macvlan or sriov, or pass --mode",
        )  # fmt: skip
    if not args.parent:
        raise InvalidInput(
            f"node {args.node} annotation {PARENT_ANNOTATION}", args.parent, "is missing",
            "annotate the node with its uplink NIC (e.g. fip.io/parent=eth0) or pass --parent",
        )  # fmt: skip


def build(args: argparse.Namespace) -> Wiring:
    """(daemon, server, pod cache or None), wired from the arguments; nothing is served yet."""
    from bridge import make_driver
    from fip.kube.client import KubeClient
    from fip.kube.errors import NotFound
    from fip.kube.resources import SUBNETS
    from fipd.announcer import Announcer
    from fipd.daemon import Daemon
    from fipd.nodenet import NodeSubnets
    from fipd.podcache import NodePodCache
    from fipd.pods import AllocationLookup
    from fipd.server import CNIServer
    from fipd.state import StateDir
    from fipd.stopping import Stopping

    kube = KubeClient(args.kubeconfig)
    stopping = Stopping()  # the API calls of CNI requests end at SIGTERM (fipd.stopping)
    if not args.mode or not args.parent:
        node_settings(args, kube.get_node(args.node))

    def get_pod(ns: str, name: str) -> dict[str, Any] | None:
        try:
            return stopping.call(f"get pod {ns}/{name}", lambda: kube.get_pod(ns, name))
        except NotFound:
            return None

    cache = None
    if not args.no_pod_cache:
        cache = NodePodCache(kube, args.node)
    store = None
    if args.redis_url:
        from fip.store.factory import open_store

        store = open_store(args.redis_url)
    else:
        log.warning(
            "no --redis-url / FIP_REDIS_URL: records are not marked bound by fipd (the controllers do it)"
        )
    daemon = Daemon(
        node=args.node,
        driver=make_driver(args.mode, args.parent, host_netns=args.host_netns),
        states=StateDir(args.state_dir, fsync=args.state_fsync),
        lookup=AllocationLookup(get_pod, time.monotonic, cache),
        subnets=NodeSubnets(
            args.node,
            lambda: stopping.call("list subnets", lambda: kube.list(SUBNETS).get("items") or []),
            lambda: stopping.call(f"get node {args.node}", lambda: kube.get_node(args.node)),
            time.monotonic,
        ),
        store=store,
        service_cidr=_service_cidr(args.service_cidr),
        annotation_timeout=args.annotation_timeout,
        garp_count=args.garp_count,
        announcer=None if args.garp_sync else Announcer(),
        clusterip=_clusterip(args, kube),
    )

    def live_pod_uids() -> set[str]:
        items = kube.list_pods(node=args.node).get("items") or []
        return {str((p.get("metadata") or {}).get("uid")) for p in items}

    return Wiring(daemon, CNIServer(args.socket, daemon.handle), cache, live_pod_uids, stopping)


def _clusterip(args: argparse.Namespace, kube: Any) -> ClusterIP:
    """The ClusterIP hook (bpf.hook): compiles the programs once, starts the map sync; inert when
    off or when the node cannot run BPF (it logs why; pods are plugged either way)."""
    from bpf.hook import from_args

    return from_args(args, kube)


def serve(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        wiring = build(args)
        server, cache = wiring.server, wiring.cache
        if cache is not None:
            cache.start()
        _sweep(wiring)
        hook, daemon = wiring.daemon.clusterip, wiring.daemon
        if hook is not None:  # a restart: swap the new programs in on every plugged pod, no gap
            plugged = daemon.states.all()
            hook.restore((s.netns, s.ifname, args.mode, f"{s.namespace}/{s.pod}") for s in plugged)
        server.bind()
    except FipError as err:
        print(f"fipd: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # SocketInUse, OSError: say it plainly
        print(f"fipd: cannot start: {err}", file=sys.stderr)
        return 1
    if args.metrics_port:
        from fipd.metrics import serve_metrics

        serve_metrics(args.metrics_port)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: every thread's stack to the log
    # The handlers only append to a list: a handler that took a lock (Event.set) could find it
    # held by the very main thread it interrupted, and wait for it forever.
    signals: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _: signals.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _: signals.append(signum))
    server.serve_in_thread()
    log.info(
        "fipd serving on %s (node %s, mode %s, parent %s)", args.socket, args.node, args.mode, args.parent
    )
    while not signals:
        time.sleep(0.1)
    log.info("signal %d: stopping", signals[0])
    faulthandler.dump_traceback_later(DRAIN + STOP_MARGIN, exit=True)
    wiring.stopping.stop()
    server.stop(drain=DRAIN)
    if cache is not None:
        cache.stop()
    if wiring.daemon.clusterip is not None:
        wiring.daemon.clusterip.stop()  # programs and pinned maps stay: pods keep ClusterIP
    log.info("fipd stopped; plugged pods are left as they are")
    return 0


def _sweep(wiring: Wiring) -> None:
    from fip.kube.errors import KubeError

    try:
        live = wiring.live_pod_uids()
    except KubeError as err:
        log.warning("start-up sweep skipped: cannot list this node's pods (%s)", err)
        return
    swept = wiring.daemon.sweep(live)
    log.info("start-up sweep: %d container(s) of gone pods unplugged", len(swept))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "install-cni":
        from fipd.install import main as install_main

        sys.exit(install_main(args[1:]))
    code = serve(args)
    # Exit without interpreter finalisation (see the module docstring): daemon threads may still
    # be blocked on the API server, and nothing they hold may delay or hang the exit.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
