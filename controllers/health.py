"""The controllers' HTTP endpoints: /healthz (the process's loops run), /readyz (caches synced,
store reachable, not rebuilding; a standby replica is ready too: ready to take over), /metrics
(Prometheus text). Plain HTTP on the `--listen` address; nothing here changes state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Probe = Callable[[], tuple[bool, str]]


class HealthServer:
    def __init__(self, host: str, port: int, *, healthy: Probe, ready: Probe) -> None:
        probes = {"/healthz": healthy, "/readyz": ready, "/livez": healthy}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
                    return
                probe = probes.get(path)
                if probe is None:
                    self._send(404, b"not found\n", "text/plain")
                    return
                ok, why = probe()
                self._send(200 if ok else 503, f"{'ok' if ok else 'not ok'}: {why}\n".encode(), "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the prober gave up waiting; nothing to tell anyone

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="fip-health", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
