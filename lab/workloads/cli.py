"""`fip-lab workloads`: run the workload controllers until interrupted.

Exit codes: 0 after Ctrl-C/SIGTERM, 2 for an unusable kubeconfig (the message says why).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from lab.workloads.manager import Manager


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fip-lab workloads",
        description="the lab's kube-controller-manager stand-in (Deployment, ReplicaSet, StatefulSet, TApp, "
        "EndpointSlice)",
    )
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the API server")
    parser.add_argument(
        "--resync", type=float, default=30.0, help="seconds between full resyncs (default 30)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every retry")
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(message)s")
    try:
        client = KubeClient(args.kubeconfig)
    except (KubeError, ValueError, OSError) as e:
        print(f"fip-lab workloads: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    manager = Manager(client, resync=args.resync)
    manager.start()
    logging.info("controllers running: %s", ", ".join(manager.controllers))
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        manager.stop()
    return 0
