"""`fip-lab kubelet`: the kubelet stand-in of one simulated node, until SIGTERM.

    fip-lab kubelet --node a1 --node-ip 192.168.1.2 --kubeconfig K --netns-prefix fl-1a2b3c \\
        --cni-conf-dir D/net.d --cni-bin-dir D/bin --state-dir D/sandboxes \\
        [--label fip.io/l2=a] [--annotation fip.io/parent=eth1] [--capacity fip.io/ip=64] \\
        [--healthz-port PORT]

`--healthz-port` serves `GET /healthz` on 127.0.0.1 (200 `ok` once the pod list is synced and
the workers run, 503 otherwise), as the real kubelet does on 10248. SIGTERM stops watching and
serving and leaves the sandboxes (a new kubelet takes them over). Exit codes: 0 after SIGTERM,
2 bad arguments, 1 could not start (the message says why).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fip.core.errors import FipError
from lab.kubelet.status import node_object


def _pairs(flag: str, items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"fip-lab kubelet: {flag} {item!r} is not KEY=VALUE")
        out[key] = value
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fip-lab kubelet", description="the lab's kubelet stand-in for one node")
    p.add_argument("--node", required=True)
    p.add_argument("--node-ip", required=True, help="the node's InternalIP")
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--netns-prefix", required=True, help="pod namespaces are <prefix>-p-<uid>")
    p.add_argument("--cni-conf-dir", type=Path, required=True)
    p.add_argument("--cni-bin-dir", type=Path, action="append", required=True, help="CNI_PATH (repeatable)")
    p.add_argument("--state-dir", type=Path, required=True, help="the sandbox records")
    p.add_argument("--label", action="append", default=[], help="node label KEY=VALUE (repeatable)")
    p.add_argument("--annotation", action="append", default=[], help="node annotation KEY=VALUE (repeatable)")
    p.add_argument(
        "--capacity", action="append", default=[], help="extra node capacity NAME=QTY (repeatable)"
    )
    p.add_argument("--port", type=int, default=8080, help="the pods' container port")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--healthz-port", type=int, default=0)
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def _healthz(port: int, healthy: Any) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/healthz" and healthy()
            body = b"ok\n" if ok else b"not ready\n"
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="healthz").start()
    return server


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    from fip.kube.client import KubeClient
    from lab.kubelet.cni import Runtime
    from lab.kubelet.kubelet import Kubelet
    from lab.kubelet.sandboxes import Store

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    node = node_object(args.node, args.node_ip, _pairs("--label", args.label),
                       _pairs("--annotation", args.annotation), now)  # fmt: skip
    for res, qty in _pairs("--capacity", args.capacity).items():
        node["status"]["capacity"][res] = qty  # the same dict as allocatable
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        client = KubeClient(args.kubeconfig)
        kubelet = Kubelet(
            client, node, runtime=Runtime(args.cni_conf_dir, args.cni_bin_dir), store=Store(args.state_dir),
            prefix=args.netns_prefix, port=args.port, workers=args.workers,
        )  # fmt: skip
        kubelet.start()
    except (FipError, OSError) as err:
        print(f"fip-lab kubelet {args.node}: cannot start: {err}", file=sys.stderr)
        return 1
    server = _healthz(args.healthz_port, lambda: kubelet.healthy) if args.healthz_port else None
    logging.info("kubelet %s running (InternalIP %s)", args.node, args.node_ip)
    stop.wait()
    logging.info("kubelet %s stopping; sandboxes are left to the next kubelet", args.node)
    if server is not None:
        server.shutdown()
    kubelet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
