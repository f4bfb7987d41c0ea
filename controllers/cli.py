"""`fip-controllers`: release, reconcile, rebuild and CRD status, leader-elected.

    fip-controllers --redis-url URL [--kubeconfig PATH] [--reconcile-period S] [--grace S]
                    [--listen HOST:PORT] [--lease-namespace NS] [--id ID]

Without `--kubeconfig` (or `$KUBECONFIG`) the in-cluster service account is used. The store URL
comes from `--redis-url` or `$FIP_REDIS_URL`. Several replicas may run: one holds the Lease
`<lease-namespace>/fip-controllers` and acts, the others wait ready to take over (within one
lease duration). `--listen` serves /healthz, /readyz and /metrics (default 0.0.0.0:9095).

An unreachable store or API server at start-up is waited for (readyz says why), not fatal.
SIGTERM / SIGINT: the replica stops acting, releases the Lease (a successor takes over at once)
and exits 0. Exit codes: 0 clean stop; 2 bad arguments (the message names the flag).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fip.core.errors import FipError, InvalidInput
from fip.core.names import check_label
from fip.core.releaseplan import DEFAULT_GRACE

log = logging.getLogger("fip.controllers")
SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
EXIT_USAGE = 2
ANY = "0.0.0.0"  # noqa: S104 (probes and Prometheus reach the pod on its IP; nothing here mutates)


def _seconds(flag: str, low: float) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag}: {text!r} is not a number of seconds") from None
        if not value >= low or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{flag}: {text!r} must be a finite number >= {low:g}")
        return value

    return parse


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"--listen: {text!r} is not HOST:PORT (e.g. 0.0.0.0:9095)")
    return host.strip("[]") or ANY, int(port)


def _namespace() -> str:
    env = os.environ.get("POD_NAMESPACE")
    if env:
        return env
    try:
        return SA_NAMESPACE.read_text().strip() or "kube-system"
    except OSError:
        return "kube-system"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fip-controllers", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--redis-url", default=os.environ.get("FIP_REDIS_URL", ""), help="store URL (env FIP_REDIS_URL)"
    )
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG") or None, help="default: in-cluster")
    p.add_argument("--reconcile-period", type=_seconds("--reconcile-period", 0.1), default=60.0, metavar="S")
    p.add_argument("--grace", type=_seconds("--grace", 0.0), default=DEFAULT_GRACE, metavar="S",
                   help="age before an allocation without a live pod may be freed")  # fmt: skip
    p.add_argument("--listen", type=_listen, default=(ANY, 9095), metavar="HOST:PORT")
    p.add_argument("--lease-namespace", default=_namespace(), metavar="NS")
    p.add_argument(
        "--id", default=f"{socket.gethostname()}-{os.getpid()}", help="this replica's Lease identity"
    )
    p.add_argument("--lease-duration", type=_seconds("--lease-duration", 1.0), default=15.0, metavar="S")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = p.parse_args(list(argv))
    if not args.redis_url:
        p.error("--redis-url: not set; pass --redis-url redis://HOST:PORT/DB or export FIP_REDIS_URL")
    try:
        check_label("--lease-namespace", args.lease_namespace)
    except InvalidInput as err:
        p.error(str(err))
    return args


def _open_store(url: str, stop: threading.Event) -> Any:
    """The store, waiting (with back-off) while it cannot be reached; None if stopped first."""
    from fip.store.errors import StoreUnavailable
    from fip.store.factory import open_store

    delay = 0.5
    while not stop.is_set():
        try:
            return open_store(url, "--redis-url")
        except StoreUnavailable as err:
            log.warning("%s; trying again in %.1f s", err, delay)
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        return run(args, stop)
    except FipError as err:
        log.error("%s", err)
        return 1


def run(args: argparse.Namespace, stop: threading.Event) -> int:
    from controllers.health import HealthServer
    from controllers.manager import Controllers, tune_gc
    from fip.kube.client import KubeClient

    tune_gc()
    started = time.monotonic()
    state: dict[str, Any] = {}

    def healthy() -> tuple[bool, str]:
        ctl = state.get("ctl")
        return (
            (True, "starting")
            if ctl is None
            else (ctl.alive(), "loops running" if ctl.alive() else "a loop died")
        )

    def ready() -> tuple[bool, str]:
        ctl = state.get("ctl")
        return (False, "connecting to the store") if ctl is None else ctl.ready()

    host, port = args.listen
    health = HealthServer(host, port, healthy=healthy, ready=ready).start()
    log.info("fip-controllers %s: serving /healthz /readyz /metrics on %s:%d", args.id, host, health.port)
    try:
        store = _open_store(args.redis_url, stop)
        if store is None:
            return 0
        client = KubeClient(args.kubeconfig)
        ctl = Controllers(
            client,
            store,
            namespace=args.lease_namespace,
            identity=args.id,
            period=args.reconcile_period,
            grace=args.grace,
            lease_duration=args.lease_duration,
            renew_deadline=args.lease_duration * 2 / 3,
            retry_period=max(0.2, args.lease_duration / 7.5),
        )
        state["ctl"] = ctl.start()
        announced = False
        while not stop.wait(0.1):
            if not announced and ctl.ready()[0]:
                announced = True
                log.info("ready after %.2f s", time.monotonic() - started)
        log.info("stopping")
        ctl.stop()
        store.close()
        client.close()
        return 0
    finally:
        health.stop()
