"""`APIServer`: the fake kube-apiserver as an object — start, use, stop.

    with APIServer(host="127.0.0.1", port=0) as api:
        api.url                      # "http://127.0.0.1:PORT"
        api.write_kubeconfig(path)   # a normal kubeconfig for the official client / kubectl
        api.control                  # test control (lab.apiserver.control.Control)
        api.storage                  # in-process access (lab.apiserver.storage.Storage)

The namespaces `default`, `kube-system`, `kube-public` and `kube-node-lease` exist from the
start, as on a new cluster. CRDs come from `crd_dir` (default `<repo>/deploy/crds`), plus TApp's
(`apps.tkestack.io/v1 tapps`, see `resources.TAPP_CRD`) unless the directory has its own.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import pathlib
import socket
import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from lab.apiserver import kubeconfig
from lab.apiserver.apply import LAST_APPLIED
from lab.apiserver.control import Control
from lab.apiserver.gc import Collector
from lab.apiserver.handler import Handler
from lab.apiserver.openapi import Documents
from lab.apiserver.resources import BUILTIN, TAPP_CRD, Registry, from_crd, load_crds
from lab.apiserver.storage import Storage

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_CRD_DIR = REPO / "deploy" / "crds"
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class _HTTPServer(ThreadingHTTPServer):
    """Tracks its open connections so `close_connections` can end them: a stopped API server
    must look gone to clients holding keep-alive connections, as a killed kube-apiserver does."""

    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class APIServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        crd_dir: str | os.PathLike[str] | None = None,
        *,
        history: int = 250_000,
        bookmark_interval: float = 1.0,
    ) -> None:
        crd_path = pathlib.Path(crd_dir) if crd_dir is not None else DEFAULT_CRD_DIR
        self.crds = load_crds(crd_path)
        if not any(
            (d.get("metadata") or {}).get("name") == TAPP_CRD["metadata"]["name"] for d, _ in self.crds
        ):
            self.crds.append((TAPP_CRD, from_crd(TAPP_CRD)))
        self.registry = Registry(list(BUILTIN) + [t for _, ts in self.crds for t in ts])
        self.storage = Storage(self.registry, history_capacity=history)
        self.openapi = Documents(self.registry)
        self.control = Control(self.storage)
        self.collector = Collector(self.storage)
        self.bookmark_interval = bookmark_interval
        self.requests: collections.deque[tuple[str, str, int]] = collections.deque(maxlen=10_000)
        self.open_watches: set[Any] = set()
        for ns in INITIAL_NAMESPACES:
            self.storage.create("namespaces", {"metadata": {"name": ns}})
        for doc, _ in self.crds:
            self.storage.create("customresourcedefinitions", _as_applied(doc), keep_status=True)
        handler = type("BoundHandler", (Handler,), {"api": self})
        self._httpd = _HTTPServer((host, port), handler)
        self.host, self.port = str(self._httpd.server_address[0]), int(self._httpd.server_address[1])
        self._kubernetes_service()
        self._thread: threading.Thread | None = None

    def _kubernetes_service(self) -> None:
        """`default/kubernetes`: every apiserver keeps this Service (first service IP, 443 -> its port)."""
        self.storage.create(
            "services",
            {
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": "10.96.0.1",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": self.port}],
                },
            },
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> APIServer:
        self.collector.start()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="apiserver-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; open watches end, the port is released."""
        self.control.resume()
        with self.storage.lock:
            self.storage.history.closed = True
            self.storage.cond.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        self.collector.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def write_kubeconfig(self, path: str | os.PathLike[str]) -> pathlib.Path:
        return kubeconfig.write(path, self.url)

    def __enter__(self) -> APIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _as_applied(doc: dict[str, Any]) -> dict[str, Any]:
    """A CRD manifest as `kubectl apply -f` leaves it: its own metadata plus the
    last-applied-configuration annotation, so applying deploy/crds to the lab is "unchanged"
    rather than a warning about a missing annotation."""
    meta = dict(doc.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    config = {**doc, "metadata": {**meta, "annotations": annotations}}
    annotations[LAST_APPLIED] = json.dumps(config, sort_keys=True, separators=(",", ":")) + "\n"
    return {**doc, "metadata": {**meta, "annotations": annotations}}
