"""`fip-lab apiserver --listen 127.0.0.1:PORT --kubeconfig-out PATH`: run the fake API server.

Prints the URL on stdout (one line, `http://HOST:PORT`, after the kubeconfig is written, so a
wrapper may read it to know the server is ready) and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from lab.apiserver.server import APIServer


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fip-lab apiserver", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--listen", default="127.0.0.1:0", help="HOST:PORT to listen on (port 0: any free port)"
    )
    parser.add_argument("--kubeconfig-out", help="write a kubeconfig for this server to PATH")
    parser.add_argument("--crd-dir", help="directory of CRD manifests (default: <repo>/deploy/crds)")
    parser.add_argument("--history", type=int, default=250_000, help="watch history kept, in changes")
    parser.add_argument(
        "--bookmark-interval", type=float, default=1.0, help="seconds between watch bookmarks"
    )
    args = parser.parse_args(argv)
    host, _, port_text = args.listen.rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        print(
            f"fip-lab apiserver: --listen {args.listen!r} is not HOST:PORT (e.g. 127.0.0.1:6443)",
            file=sys.stderr,
        )
        return 2
    try:
        api = APIServer(
            host or "127.0.0.1",
            port,
            args.crd_dir,
            history=args.history,
            bookmark_interval=args.bookmark_interval,
        )
    except OSError as e:
        print(
            f"fip-lab apiserver: cannot listen on {args.listen}: {e.strerror}; pick another port",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with api:
        if args.kubeconfig_out:
            api.write_kubeconfig(args.kubeconfig_out)
        print(api.url, flush=True)
        while not stop.wait(1.0):
            pass
    return 0
