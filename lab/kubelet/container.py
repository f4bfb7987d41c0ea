"""A pod's "container": a small HTTP server inside the pod's network namespace.

    c = Container.start(netns, port=8080, identity={"pod": "shop/web-0", "ip": "10.10.1.10", ...})
    c.stop()

`GET /` answers the identity as JSON (`{"pod": "shop/web-0", "ip": ..., "node": ..., "uid":
...}`), so a probe from a legacy host proves it reached *this* pod, not merely its address.
`GET /healthz` answers `ok`.

Why a listening socket in the kubelet's process and not a process per pod: a socket belongs to
the network namespace it was created in, for good, so the kubelet makes it inside the pod's
namespace (`bridge.nsenter.inside`, one thread for a moment) and serves it from a thread of its
own. Hundreds of pods then cost a thread each instead of an interpreter each (the e2e
benchmark starts 500). The price: a restarted kubelet restarts its pods' containers, which the
lab's kubelet does at start-up for every sandbox it finds.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from bridge.nsenter import inside

PORT = 8080


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # the http.server naming
        body = b"ok\n" if self.path == "/healthz" else (json.dumps(self.server.identity) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain" if self.path == "/healthz" else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: probes are frequent
        return


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    identity: ClassVar[dict[str, str]]


class Container:
    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @classmethod
    def start(cls, netns: str, identity: dict[str, str], port: int = PORT) -> Container:
        """Listen on 0.0.0.0:`port` inside `netns` and serve from a daemon thread."""
        with inside(netns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server_cls = type("PodServer", (_Server,), {"identity": identity})
        server = server_cls(("0.0.0.0", port), _Handler, bind_and_activate=False)  # noqa: S104
        server.socket.close()
        server.socket = sock
        try:
            server.server_bind()
            server.server_activate()
        except OSError:
            server.server_close()
            raise
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name=f"pod-{identity.get('pod')}",
            daemon=True,
        )
        thread.start()
        return cls(server, thread)

    def stop(self) -> None:
        """Stop serving and close the socket; returns within about the poll interval."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)


def http_get(netns: str, ip: str, port: int = PORT, path: str = "/", timeout: float = 2.0) -> str:
    """`GET path` from inside `netns`; the body (raises OSError when unreachable)."""
    with inside(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(timeout)
        sock.connect((ip, port))
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200"):
        raise OSError(f"GET http://{ip}:{port}{path} from {netns}: {head[:60]!r}")
    return body.decode()
