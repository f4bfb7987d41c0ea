"""A small stdlib HTTP client for the lab's own control-plane components.

The lab's scheduler and workload controllers stand in for kube-scheduler and
kube-controller-manager, so they talk to the API server the way those do: over HTTP, through
the ordinary REST paths, with list + watch from a resourceVersion and a re-list on 410. They may
not import the `kubernetes` package (only `fip.kube.client` may), hence this module.

Objects are plain decoded JSON (`Obj`). Callers must know:
- `watch()` yields events until the server ends the stream, raises `Expired` on a 410 ERROR
  event (the caller re-lists), and stops early when `stop` is set and the connection is closed
  by `Watch.close()`.
- `Informer` keeps a cache keyed `namespace/name` (or `name`), re-lists after `Expired` and
  reports the differences as events, so handlers see every change exactly once in order.

Errors:
    KubeError                 any failed request (status 0 = transport failure)
    └── Expired               410 Gone: resourceVersion too old, re-list
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

Obj = dict[str, Any]
log = logging.getLogger("lab.kubeclient")


class KubeError(Exception):
    """A request the API server refused (status, reason from its Status body) or could not answer."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class Expired(KubeError):
    """The resourceVersion is too old; list again and watch from the list's resourceVersion."""


@dataclass(frozen=True, slots=True)
class Resource:
    """Where a kind lives in the REST API."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{urllib.parse.quote(namespace)}"
        base += f"/{self.plural}"
        if name:
            base += f"/{urllib.parse.quote(name)}"
        if sub:
            base += f"/{sub}"
        return base


PODS = Resource("", "v1", "pods", "Pod")
NODES = Resource("", "v1", "nodes", "Node", namespaced=False)
SERVICES = Resource("", "v1", "services", "Service")
EVENTS = Resource("", "v1", "events", "Event")
ENDPOINTSLICES = Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
REPLICASETS = Resource("apps", "v1", "replicasets", "ReplicaSet")
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")
TAPPS = Resource("apps.tkestack.io", "v1", "tapps", "TApp")


def key_of(obj: Mapping[str, Any]) -> str:
    """The cache key kube uses: `namespace/name`, or `name` for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class KubeClient:
    """One base URL, optional bearer token and TLS context; a new connection per request
    (thread-safe by construction; the lab's request rates make keep-alive unnecessary)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"API server URL {base_url!r} is not http(s)://host[:port]; fix the kubeconfig")
        self.base_url = base_url.rstrip("/")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port or (443 if self._https else 80)
        self._prefix = parsed.path.rstrip("/")
        self._token = token
        self._context = context
        self.timeout = timeout

    @classmethod
    def from_kubeconfig(cls, path: str) -> KubeClient:
        """The current context's cluster and user (token, client cert, CA, insecure flag)."""
        with open(path, encoding="utf-8") as f:
            cfg = yaml.safe_load(f) or {}
        ctx_name = cfg.get("current-context")
        contexts = {c["name"]: c.get("context", {}) for c in cfg.get("contexts") or []}
        ctx: dict[str, Any] = contexts.get(ctx_name) or next(iter(contexts.values()), {})
        clusters = {c["name"]: c.get("cluster", {}) for c in cfg.get("clusters") or []}
        users = {u["name"]: u.get("user", {}) or {} for u in cfg.get("users") or []}
        cluster = clusters.get(ctx.get("cluster")) or next(iter(clusters.values()), None)
        if not cluster or not cluster.get("server"):
            raise ValueError(f"kubeconfig {path}: no cluster server for context {ctx_name!r}")
        user = users.get(ctx.get("user"), {})
        context = None
        if str(cluster["server"]).startswith("https"):
            context = ssl.create_default_context()
            if cluster.get("insecure-skip-tls-verify"):
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif cluster.get("certificate-authority-data"):
                context.load_verify_locations(
                    cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
                )
            elif cluster.get("certificate-authority"):
                context.load_verify_locations(cafile=cluster["certificate-authority"])
            _load_client_cert(context, user)
        return cls(str(cluster["server"]), token=user.get("token"), context=context)

    # -- plumbing -------------------------------------------------------------------------------

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._context)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "fip-lab"}
        if content_type:
            headers["Content-Type"] = content_type
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
    ) -> Obj:
        """One request; a JSON object back, or KubeError carrying the server's Status."""
        url = self._prefix + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        conn = self._connect(self.timeout)
        try:
            conn.request(method, url, body=data, headers=self._headers(content_type if data else None))
            resp = conn.getresponse()
            raw = resp.read()
        except OSError as e:
            raise KubeError(0, "Unreachable", f"{method} {self.base_url}{url}: {e}") from e
        finally:
            conn.close()
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"message": raw[:200].decode(errors="replace")}
        if resp.status >= 300:
            raise _error(resp.status, decoded if isinstance(decoded, dict) else {})
        return decoded if isinstance(decoded, dict) else {"items": decoded}

    # -- verbs ----------------------------------------------------------------------------------

    def get(self, res: Resource, name: str, namespace: str | None = None) -> Obj:
        return self.request("GET", res.path(namespace, name))

    def list(
        self, res: Resource, namespace: str | None = None, label_selector: str = "", field_selector: str = ""
    ) -> Obj:
        query = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        return self.request("GET", res.path(namespace), query)

    def create(self, res: Resource, obj: Obj, namespace: str | None = None, sub: str | None = None) -> Obj:
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        name = (obj.get("metadata") or {}).get("name") if sub else None
        return self.request("POST", res.path(ns, name, sub), body=obj)

    def update(self, res: Resource, obj: Obj, sub: str | None = None) -> Obj:
        meta = obj["metadata"]
        return self.request("PUT", res.path(meta.get("namespace"), meta["name"], sub), body=obj)

    def patch(
        self,
        res: Resource,
        name: str,
        patch: object,
        namespace: str | None = None,
        *,
        sub: str | None = None,
        patch_type: str = "application/merge-patch+json",
    ) -> Obj:
        return self.request("PATCH", res.path(namespace, name, sub), body=patch, content_type=patch_type)

    def delete(
        self,
        res: Resource,
        name: str,
        namespace: str | None = None,
        uid: str | None = None,
        grace_period: int | None = None,
    ) -> Obj:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if uid:
            body["preconditions"] = {"uid": uid}
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        return self.request("DELETE", res.path(namespace, name), body=body)

    def watch(
        self,
        res: Resource,
        resource_version: str,
        namespace: str | None = None,
        *,
        timeout_seconds: int = 300,
        label_selector: str = "",
        bookmarks: bool = True,
    ) -> Watch:
        query = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": str(timeout_seconds)}
        if bookmarks:
            query["allowWatchBookmarks"] = "true"
        if label_selector:
            query["labelSelector"] = label_selector
        return Watch(
            self, self._prefix + res.path(namespace) + "?" + urllib.parse.urlencode(query), timeout_seconds
        )


class Watch:
    """One watch stream. Iterate for events; `close()` from another thread ends the iteration."""

    def __init__(self, client: KubeClient, url: str, timeout_seconds: int) -> None:
        self._conn = client._connect(timeout_seconds + 30)
        self._client = client
        self._url = url
        self._closed = False

    def close(self) -> None:
        self._closed = True
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(2)
        self._conn.close()

    def __iter__(self) -> Iterator[Obj]:
        try:
            self._conn.request("GET", self._url, headers=self._client._headers(None))
            resp = self._conn.getresponse()
            if resp.status != 200:
                body = resp.read()
                raise _error(resp.status, _json_or_empty(body))
            while not self._closed:
                line = resp.readline()
                if not line:
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    raise _error(int(event.get("object", {}).get("code") or 500), event.get("object") or {})
                yield event
        except (OSError, http.client.HTTPException, ValueError, AttributeError) as e:
            # AttributeError: http.client's reader after close() from another thread
            if self._closed:
                return
            raise KubeError(0, "WatchBroken", f"watch {self._url}: {e}") from e
        finally:
            self._conn.close()


Handler = Callable[[str, Obj, "Obj | None"], None]


class Informer:
    """List + watch one resource into a cache; call `handler(type, obj, old)` for each change.

    type is ADDED, MODIFIED or DELETED; `old` is the cached object before the change (None for
    ADDED). Handlers run on the informer's thread and must be quick (enqueue a key)."""

    def __init__(
        self,
        client: KubeClient,
        res: Resource,
        namespace: str | None = None,
        label_selector: str = "",
        watch_timeout: int = 300,
    ) -> None:
        self.client = client
        self.res = res
        self.namespace = namespace
        self.label_selector = label_selector
        self.watch_timeout = watch_timeout
        self.handlers: list[Handler] = []
        self.synced = threading.Event()
        self._cache: dict[str, Obj] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch: Watch | None = None
        self._thread: threading.Thread | None = None
        self.relists = 0

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def get(self, key: str) -> Obj | None:
        with self._lock:
            return self._cache.get(key)

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self._cache.values())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.res.plural}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _emit(self, kind: str, obj: Obj, old: Obj | None) -> None:
        for handler in self.handlers:
            try:
                handler(kind, obj, old)
            except Exception:  # a broken handler must not stop the watch (client-go logs and goes on)
                log.exception("informer %s: handler failed on %s %s", self.res.plural, kind, key_of(obj))

    def _relist(self) -> str:
        listed = self.client.list(self.res, self.namespace, self.label_selector)
        fresh = {key_of(o): o for o in listed.get("items") or []}
        with self._lock:
            old_cache, self._cache = self._cache, dict(fresh)
        for key, obj in fresh.items():
            previous = old_cache.get(key)
            if previous is None:
                self._emit("ADDED", obj, None)
            elif previous.get("metadata", {}).get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                self._emit("MODIFIED", obj, previous)
        for key, previous in old_cache.items():
            if key not in fresh:
                self._emit("DELETED", previous, previous)
        self.relists += 1
        self.synced.set()
        return str((listed.get("metadata") or {}).get("resourceVersion") or "0")

    def _run(self) -> None:
        rv = ""
        while not self._stop.is_set():
            try:
                if not rv:
                    rv = self._relist()
                self._watch = self.client.watch(
                    self.res,
                    rv,
                    self.namespace,
                    timeout_seconds=self.watch_timeout,
                    label_selector=self.label_selector,
                )
                for event in self._watch:
                    rv = self._apply(event) or rv
            except Expired:
                rv = ""
            except KubeError:
                if self._stop.wait(0.5):
                    return
            except Exception:  # keep watching whatever happened; a dead informer is a silent outage
                log.exception("informer %s: unexpected error; re-listing", self.res.plural)
                rv = ""
                if self._stop.wait(0.5):
                    return

    def _apply(self, event: Obj) -> str:
        obj = event.get("object") or {}
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        kind = event.get("type")
        if kind == "BOOKMARK":
            return rv
        key = key_of(obj)
        with self._lock:
            old = self._cache.get(key)
            if kind == "DELETED":
                self._cache.pop(key, None)
            else:
                self._cache[key] = obj
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            self._emit(str(kind) if not (kind == "ADDED" and old) else "MODIFIED", obj, old)
        return rv


def _error(status: int, body: Mapping[str, Any]) -> KubeError:
    reason = str(body.get("reason") or http.client.responses.get(status, "Error"))
    message = str(body.get("message") or "")
    return (Expired if status == 410 else KubeError)(status, reason, message)


def _json_or_empty(raw: bytes) -> Obj:
    try:
        decoded = json.loads(raw)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _load_client_cert(context: ssl.SSLContext, user: Mapping[str, Any]) -> None:
    if user.get("client-certificate-data") and user.get("client-key-data"):
        with tempfile.NamedTemporaryFile("wb", suffix=".pem") as f:
            f.write(base64.b64decode(user["client-certificate-data"]) + b"\n")
            f.write(base64.b64decode(user["client-key-data"]))
            f.flush()
            context.load_cert_chain(f.name)
    elif user.get("client-certificate") and user.get("client-key"):
        context.load_cert_chain(user["client-certificate"], user["client-key"])
