"""`fip-extender`: the composition root, served by gunicorn (an embedded Application).

    fip-extender --redis-url URL --listen HOST:PORT [--kubeconfig PATH] [--workers N]
                 [--prefix /fip] [--tls-cert F --tls-key F --client-ca F] [--max-body-bytes N]

Each gunicorn worker builds its own store connection, Kubernetes client, informers and app
after the fork (`load()`), so no socket or thread crosses a fork. Without --kubeconfig the
in-cluster configuration is used. With --tls-cert/--tls-key the extender serves HTTPS; with
--client-ca as well, every client must present a certificate signed by that CA (mutual TLS, what
kube-scheduler's `tlsConfig` with certFile/keyFile sends).

Exit codes: 0 stopped, 2 usage or unreadable files, 3 a worker could not start (Redis unreachable,
kubeconfig unusable; the reason is logged on one line).
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

DEFAULT_MAX_BODY = 32 * 1024 * 1024
WORKER_BOOT_ERROR = 3  # gunicorn's exit code when a worker cannot boot


def _listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT (e.g. 0.0.0.0:8443 or [::1]:8443)")
    return value


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return int(value)


def _prefix(value: str) -> str:
    if not value.startswith("/") or any(c in value for c in "?#% "):
        raise argparse.ArgumentTypeError(f"{value!r} is not a URL path prefix such as /fip")
    return value.rstrip("/") or "/"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fip-extender", description="kube-scheduler HTTP extender for floating IPs."
    )
    p.add_argument(
        "--redis-url", required=True, help="store URL (redis://, rediss://, redis+cluster://, memory://)"
    )
    p.add_argument("--listen", required=True, type=_listen, help="HOST:PORT to serve on")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster configuration)")
    p.add_argument("--workers", type=_positive, default=2, help="gunicorn worker processes (default 2)")
    p.add_argument("--threads", type=_positive, default=4, help="threads per worker (default 4)")
    p.add_argument("--prefix", type=_prefix, default="/fip", help="URL prefix of the verbs (default /fip)")
    p.add_argument("--tls-cert", help="server certificate (PEM)")
    p.add_argument("--tls-key", help="server private key (PEM)")
    p.add_argument("--client-ca", help="CA that client certificates must chain to (mutual TLS)")
    p.add_argument(
        "--max-body-bytes", type=_positive, default=DEFAULT_MAX_BODY, help="request size limit (413)"
    )
    p.add_argument("--refresh", type=float, default=2.0, help="seconds between store definition/usage reads")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def check_args(args: argparse.Namespace) -> str:
    """A usage problem, or ""."""
    if bool(args.tls_cert) != bool(args.tls_key):
        return "--tls-cert and --tls-key go together"
    if args.client_ca and not args.tls_cert:
        return "--client-ca needs --tls-cert and --tls-key (mutual TLS is HTTPS)"
    for flag in ("tls_cert", "tls_key", "client_ca", "kubeconfig"):
        path = getattr(args, flag)
        if path and not Path(path).is_file():
            return f"--{flag.replace('_', '-')} {path}: no such file"
    if not args.refresh > 0:
        return "--refresh must be a positive number of seconds"
    from fip.core.errors import InvalidInput
    from fip.store.url import parse_store_url

    try:
        parse_store_url(args.redis_url, "--redis-url")
    except InvalidInput as err:
        return str(err)
    return ""


def build_app(args: argparse.Namespace) -> Any:
    """Everything one worker serves with (runs after the fork)."""
    from fip.core.errors import FipError
    from fip.kube.client import KubeClient
    from fip.kube.errors import NotFound
    from fip.kube.informer import Informer
    from fip.kube.resources import DEPLOYMENTS, NODES, PODS, REPLICASETS
    from fip.store.factory import open_store
    from scheduler_extender import create_app, logs
    from scheduler_extender.nodeindex import ClusterView

    logs.setup(args.log_level)
    try:
        store = open_store(args.redis_url)
        kube = KubeClient(args.kubeconfig)
    except FipError as err:
        # one readable line, then gunicorn's "worker failed to boot" ends the process (exit 3)
        logging.getLogger("fip.extender").error("cannot start: %s", err)
        sys.exit(WORKER_BOOT_ERROR)
    view = ClusterView(
        store,
        nodes=Informer(kube, NODES, name="nodes"),
        replicasets=Informer(kube, REPLICASETS, name="replicasets"),
        deployments=Informer(kube, DEPLOYMENTS, name="deployments"),
        refresh=args.refresh,
    )
    view.start()

    def get_pod(namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return kube.get(PODS, name, namespace)
        except NotFound:
            return None

    return create_app(view, get_pod, kube, prefix=args.prefix, max_body=args.max_body_bytes)


class ExtenderServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        super().__init__()

    def load_config(self) -> None:
        a = self.args
        settings: dict[str, Any] = {
            "bind": [a.listen],
            "workers": a.workers,
            "worker_class": "gthread",
            "threads": a.threads,
            "keepalive": 30,
            "timeout": 60,
            "graceful_timeout": 10,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": a.log_level,
            "proc_name": "fip-extender",
            "child_exit": _child_exit,
            "limit_request_line": 8190,
            "control_socket_disable": True,
        }
        if a.tls_cert:
            settings.update(certfile=a.tls_cert, keyfile=a.tls_key)
        if a.client_ca:
            settings.update(ca_certs=a.client_ca, cert_reqs=ssl.CERT_REQUIRED)
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return build_app(self.args)


def _child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live gauges must not linger in the multi-process files."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _metrics_dir() -> None:
    """A fresh PROMETHEUS_MULTIPROC_DIR for this run (set before prometheus_client loads)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        return
    path = tempfile.mkdtemp(prefix="fip-extender-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    owner = os.getpid()

    def cleanup() -> None:
        if os.getpid() == owner:
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(cleanup)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    problem = check_args(args)
    if problem:
        print(f"fip-extender: {problem}", file=sys.stderr)
        return 2
    if "prometheus_client" in sys.modules:  # pragma: no cover - a packaging mistake
        print(
            "fip-extender: prometheus_client was imported before the metrics directory was set",
            file=sys.stderr,
        )
    _metrics_dir()
    ExtenderServer(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
