"""One HTTP extender as kube-scheduler's `HTTPExtender` (pkg/scheduler/extender.go) drives it.

Every call is `POST <urlPrefix without trailing "/">/<verb>` with `Content-Type:
application/json` over a kept-alive connection when the extender allows it (a connection the
server closed while idle is retried once on a new one, as Go's transport does); the whole
exchange must finish within `httpTimeout`; any status but 200,
an unreadable body or a non-empty `Error` is an error. Whether an error fails the pod or skips
the extender (`ignorable`) is the scheduler's decision, not this class's. `interested(pod)`
is the managedResources gate: an extender with managed resources sees only pods that request
or limit one of them in a container or init container.

Errors: `ExtenderError` for any failed call; its message reads like the Go client's.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lab.scheduler import wire
from lab.scheduler.config import ExtenderConfig

MAX_EXTENDER_PRIORITY = 10
MAX_NODE_SCORE = 100
MAX_IDLE_CONNECTIONS = 8
_HEADERS = {"Content-Type": "application/json", "User-Agent": "Go-http-client/1.1"}


class ExtenderError(Exception):
    """A filter/prioritize/bind call that failed."""


@dataclass(frozen=True, slots=True)
class FilterOutcome:
    nodes: list[dict[str, Any]]
    failed: dict[str, str]
    failed_unresolvable: dict[str, str]


class HTTPExtender:
    def __init__(self, cfg: ExtenderConfig) -> None:
        self.cfg = cfg
        self.managed = frozenset(r.name for r in cfg.managed_resources)
        self.url = cfg.url_prefix.rstrip("/")
        self._split = urllib.parse.urlsplit(self.url)
        self._context: ssl.SSLContext | None = None
        if self._split.scheme == "https":
            self._context = _tls_context(cfg.tls_config or {})
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"extender {self.url}"

    @property
    def ignorable(self) -> bool:
        return self.cfg.ignorable

    @property
    def is_binder(self) -> bool:
        return bool(self.cfg.bind_verb)

    def interested(self, pod: Mapping[str, Any]) -> bool:
        if not self.managed:
            return True
        spec = pod.get("spec") or {}
        for container in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
            resources = container.get("resources") or {}
            for section in ("requests", "limits"):
                if self.managed.intersection((resources.get(section) or {}).keys()):
                    return True
        return False

    def filter(self, pod: Mapping[str, Any], nodes: Sequence[dict[str, Any]]) -> FilterOutcome:
        """The surviving nodes (objects from `nodes`), and the failure reasons per node name."""
        if not self.cfg.filter_verb:
            return FilterOutcome(list(nodes), {}, {})
        body = wire.extender_args(pod, nodes, self.cfg.node_cache_capable)
        result = self._call(self.cfg.filter_verb, body, wire.filter_result)
        if result.error:
            raise ExtenderError(result.error)
        by_name = {n["metadata"]["name"]: n for n in nodes}
        survivors: list[dict[str, Any]] = []
        if self.cfg.node_cache_capable and result.node_names is not None:
            for name in result.node_names:
                if name not in by_name:
                    raise ExtenderError(
                        f"extender {self.url!r} claims a filtered node {name!r} "
                        "which is not found in the input node list"
                    )
                survivors.append(by_name[name])
        elif result.nodes is not None:
            survivors = result.nodes
        return FilterOutcome(survivors, result.failed, result.failed_unresolvable)

    def prioritize(
        self, pod: Mapping[str, Any], nodes: Sequence[dict[str, Any]]
    ) -> tuple[list[wire.HostPriority], int]:
        """(scores, weight); without a prioritizeVerb every node scores 0 and no call is made."""
        if not self.cfg.prioritize_verb:
            return [wire.HostPriority(n["metadata"]["name"], 0) for n in nodes], 0
        body = wire.extender_args(pod, nodes, self.cfg.node_cache_capable)
        return self._call(self.cfg.prioritize_verb, body, wire.priority_list), self.cfg.weight

    def bind(self, name: str, namespace: str, uid: str, node: str) -> None:
        if not self.cfg.bind_verb:
            raise ExtenderError("unexpected empty bindVerb in extender")
        error = self._call(
            self.cfg.bind_verb, wire.binding_args(name, namespace, uid, node), wire.binding_result
        )
        if error:
            raise ExtenderError(error)

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """An idle kept-alive connection (reused=True) or a new one, as Go's transport pools them."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        split = self._split
        port = split.port or (443 if split.scheme == "https" else 80)
        if split.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                split.hostname or "", port, timeout=self.cfg.http_timeout, context=self._context
            )
        else:
            conn = http.client.HTTPConnection(split.hostname or "", port, timeout=self.cfg.http_timeout)
        return conn, False

    def _release(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        with self._lock:
            if resp.will_close or len(self._idle) >= MAX_IDLE_CONNECTIONS:
                conn.close()
            else:
                self._idle.append(conn)

    def _call(self, verb: str, body: bytes, decode: Any) -> Any:
        url = f"{self.url}/{verb}"
        path = (self._split.path or "") + f"/{verb}" + (f"?{self._split.query}" if self._split.query else "")
        deadline = time.monotonic() + self.cfg.http_timeout
        while True:
            conn, reused = self._connection()
            try:
                if conn.sock is not None:
                    conn.sock.settimeout(self.cfg.http_timeout)
                conn.request("POST", path, body=body, headers=_HEADERS)
                resp = conn.getresponse()
                if conn.sock is not None:
                    conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
                raw = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                if reused:  # the server closed an idle kept-alive connection: retry on a new one
                    continue
                raise ExtenderError(f'Post "{url}": {_transport(e)}') from e
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                raise ExtenderError(f'Post "{url}": {_transport(e)}') from e
            self._release(conn, resp)
            break
        if time.monotonic() > deadline:
            raise ExtenderError(
                f'Post "{url}": context deadline exceeded (Client.Timeout exceeded while reading body)'
            )
        if resp.status != 200:
            raise ExtenderError(f"failed {verb} with extender at URL {url}, code {resp.status}")
        try:
            return decode(raw)
        except wire.WireError as e:
            raise ExtenderError(f"{verb} reply from {url}: {e}") from e


def _transport(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    return str(e) or type(e).__name__


def _tls_context(tls: Mapping[str, Any]) -> ssl.SSLContext:
    """enableHTTPS without a CA means no server-certificate check (client-go's Insecure)."""
    context = ssl.create_default_context()
    ca = tls.get("caFile") or tls.get("caData")
    if tls.get("insecure") or not ca:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif tls.get("caFile"):
        context.load_verify_locations(cafile=tls["caFile"])
    else:
        import base64

        context.load_verify_locations(cadata=base64.b64decode(tls["caData"]).decode())
    if tls.get("certFile") and tls.get("keyFile"):
        context.load_cert_chain(tls["certFile"], tls["keyFile"])
    return context
