"""`fip-lab scheduler`: run the kube-scheduler stand-in until interrupted.

Exit codes: 0 after Ctrl-C/SIGTERM, 2 for a bad configuration or kubeconfig (the message says
which field and how to fix it).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from lab.scheduler import config as sched_config
from lab.scheduler.scheduler import Scheduler


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fip-lab scheduler", description="the lab's kube-scheduler stand-in"
    )
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the API server")
    parser.add_argument("--config", help="KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every decision")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    try:
        cfg = sched_config.load(args.config) if args.config else sched_config.SchedulerConfig()
        client = KubeClient(args.kubeconfig)
    except (KubeError, ValueError, OSError) as e:
        print(f"fip-lab scheduler: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler = Scheduler(client, cfg)
    scheduler.start()
    names = ", ".join(e.url for e in scheduler.extenders) or "none"
    logging.info("scheduling for %s; extenders: %s", ", ".join(sorted(cfg.scheduler_names)), names)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.stop()
    return 0
