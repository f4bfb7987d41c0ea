"""The Kubernetes adapter: the only module that imports `kubernetes`.

Every component of fip (extender, controllers, fipd) and of the lab (scheduler stand-in,
workload controllers, kubelets, demo) talks to an API server through this one class, over the
official client: its configuration loading (kubeconfig or in-cluster service account), its
authentication and TLS, its urllib3 connection pool and its request plumbing
(`ApiClient.call_api`). The lab therefore exercises the same client stack product code uses.

Why generic calls by REST path instead of the typed `CoreV1Api.read_namespaced_pod` family:
fip reads raw JSON (`_preload_content=False`, then `json.loads`) because the client's model
deserialisation costs milliseconds per pod and drops fields it does not know (CRDs, newer
fields); one path-based call also covers custom resources and subresources (binding, status,
eviction, scale) the same way. The paths come from `fip.kube.resources.Resource`.

Every `kubernetes` / urllib3 exception becomes a `fip.kube.errors` error here, once, with the
request in the message and the original chained. Callers must know: each call blocks for at
most `timeout` seconds (watches: the watch's own timeout plus `timeout`); objects are raw API
JSON, read with `.get`; the client is thread-safe (urllib3's pool).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import kubernetes.client
import kubernetes.config
import orjson
import urllib3
from kubernetes.client.rest import ApiException

from fip.kube.errors import Expired, KubeError, KubeUnavailable, error_for
from fip.kube.metrics import REQUESTS
from fip.kube.resources import EVENTS, NODES, PODS, Resource

Obj = dict[str, Any]
log = logging.getLogger(__name__)

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


class KubeClient:
    """Calls for fip's components. `kubeconfig` None means in-cluster configuration."""

    def __init__(self, kubeconfig: str | None = None, *, timeout: float = 10.0) -> None:
        cfg = kubernetes.client.Configuration()
        try:
            if kubeconfig:
                kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
            else:
                kubernetes.config.load_incluster_config(client_configuration=cfg)
        except (kubernetes.config.ConfigException, OSError, ValueError) as err:
            where = kubeconfig or "in-cluster service account"
            raise KubeUnavailable(
                0, f"cannot load Kubernetes configuration from {where}: {err}; give --kubeconfig PATH"
            ) from err
        self._setup(cfg, timeout)

    @classmethod
    def for_server(cls, url: str, token: str | None = None, *, timeout: float = 10.0) -> KubeClient:
        """A client for a plain URL (tests, the lab): no kubeconfig, optional bearer token,
        no TLS verification for https (the lab's self-signed servers)."""
        cfg = kubernetes.client.Configuration()
        cfg.host = url.rstrip("/")
        if token:
            cfg.api_key = {"authorization": token}
            cfg.api_key_prefix = {"authorization": "Bearer"}
        cfg.verify_ssl = False
        self = cls.__new__(cls)
        self._setup(cfg, timeout)
        return self

    def _setup(self, cfg: kubernetes.client.Configuration, timeout: float) -> None:
        self.server = str(cfg.host)
        self.timeout = timeout
        self._api = kubernetes.client.ApiClient(cfg)
        self._api.user_agent = "fip/0.1"

    def close(self) -> None:
        self._api.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _open(  # noqa: PLR0917  (the request's parts, in call_api's order)
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int] | None,
        body: object,
        content_type: str,
        timeout: float | tuple[float, float],
    ) -> Any:
        """One call through the official client; the raw urllib3 response (status 2xx)."""
        what = f"{method} {path}"
        headers = {"Accept": "application/json", "Content-Type": content_type}
        code = "0"
        try:
            resp = self._api.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=timeout,
            )
            code = str(resp.status)
            return resp
        except ApiException as err:
            code = str(err.status or 0)
            status = int(err.status or 0)
            message, reason = _status_of(err)
            if status == 0:
                raise KubeUnavailable(0, f"{what}: no answer from {self.server}: {err.reason}") from err
            raise error_for(status, f"{what}: {status} {reason or err.reason}: {message}", reason) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise KubeUnavailable(0, f"{what}: no answer from {self.server}: {err}") from err
        finally:
            REQUESTS.labels(verb=method, code=code).inc()

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int] | None = None,
        body: object = None,
        content_type: str = "application/json",
    ) -> Obj:
        """One request; the decoded JSON object back, or a KubeError carrying the Status."""
        resp = self._open(method, path, query, body, content_type, self.timeout)
        try:
            raw = resp.data
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise KubeUnavailable(0, f"{method} {path}: answer cut off: {err}") from err
        finally:
            resp.release_conn()
        try:
            decoded = orjson.loads(raw) if raw else {}  # 100,000-pod lists: ~2x faster than json
        except ValueError as err:
            raise KubeUnavailable(0, f"{method} {path}: undecodable answer from {self.server}") from err
        return decoded if isinstance(decoded, dict) else {"items": decoded}

    # -- verbs ----------------------------------------------------------------------------------

    def get(self, res: Resource, name: str, namespace: str | None = None, *, sub: str | None = None) -> Obj:
        return self.request("GET", res.path(namespace, name, sub))

    def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        cont: str = "",
    ) -> Obj:
        """The List object: `items` and `metadata.resourceVersion` (watch from there)."""
        query: dict[str, str | int] = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        if limit:
            query["limit"] = limit
        if cont:
            query["continue"] = cont
        return self.request("GET", res.path(namespace), query)

    def create(self, res: Resource, obj: Obj, namespace: str | None = None, *, sub: str | None = None) -> Obj:
        meta = obj.get("metadata") or {}
        ns = namespace or meta.get("namespace")
        name = meta.get("name") if sub else None
        return self.request("POST", res.path(ns, name, sub), body=obj)

    def update(self, res: Resource, obj: Obj, *, sub: str | None = None) -> Obj:
        """PUT; `metadata.resourceVersion`, when set, makes it conditional (409 -> Conflict)."""
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
        patch_type: str = "merge",
        field_manager: str = "",
    ) -> Obj:
        query: dict[str, str | int] = {"fieldManager": field_manager} if field_manager else {}
        return self.request(
            "PATCH", res.path(namespace, name, sub), query, body=patch, content_type=PATCH_TYPES[patch_type]
        )

    def delete(
        self,
        res: Resource,
        name: str,
        namespace: str | None = None,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        grace_period: int | None = None,
        propagation: str | None = None,
    ) -> Obj:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        pre = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if pre:
            body["preconditions"] = pre
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        if propagation:
            body["propagationPolicy"] = propagation
        return self.request("DELETE", res.path(namespace, name), body=body)

    def watch(
        self,
        res: Resource,
        resource_version: str,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int = 300,
        bookmarks: bool = True,
    ) -> Watch:
        """Open a watch from `resource_version` (the stream is read by iterating the Watch)."""
        query: dict[str, str | int] = {
            "watch": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": timeout_seconds,
        }
        if bookmarks:
            query["allowWatchBookmarks"] = "true"
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        path = res.path(namespace)
        resp = self._open("GET", path, query, None, "application/json", (self.timeout, timeout_seconds + 30))
        return Watch(resp, f"watch {res} from {resource_version or 'now'}")

    # -- the calls with a meaning of their own -------------------------------------------------

    def bind_pod(
        self, namespace: str, name: str, uid: str, node: str, annotations: Mapping[str, str]
    ) -> None:
        """POST the pod's Binding to `node`, with `uid` as precondition (a recreated pod of the
        same name is never bound by mistake) and `annotations` merged into the pod's. The
        reply is a Status, not a Binding (kubernetes-client/python#825), hence raw JSON."""
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": uid, "annotations": dict(annotations)},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        self.request("POST", PODS.path(namespace, name, "binding"), body=body)

    def create_event(
        self, involved: Obj, reason: str, message: str, *, type: str = "Normal", component: str = "fip"
    ) -> None:
        """A core/v1 Event about `involved` (what `kubectl describe` shows), named as client-go's
        recorder names them (`<object>.<hex nanoseconds>`: a generateName ending in '.' is
        invalid)."""
        meta = involved.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta.get('name', 'fip')}.{time.time_ns():x}", "namespace": ns},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", "v1"),
                "kind": involved.get("kind", "Pod"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": type,
            "source": {"component": component},
            "reportingComponent": component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self.request("POST", EVENTS.path(ns), body=event)

    def get_pod(self, namespace: str, name: str) -> Obj:
        return self.get(PODS, name, namespace)

    def get_node(self, name: str) -> Obj:
        return self.get(NODES, name)

    def list_pods(self, *, node: str | None = None, namespace: str | None = None) -> Obj:
        """The PodList (with `metadata.resourceVersion` for a following watch)."""
        return self.list(PODS, namespace, field_selector=f"spec.nodeName={node}" if node else "")


class Watch:
    """One watch stream: iterate for events (`{"type", "object"}`); `close()` from another
    thread ends the iteration quietly. A 410 ERROR event raises Expired (list again); any other
    ERROR event or a broken stream raises KubeUnavailable. The stream ends when the server
    closes it (its timeoutSeconds)."""

    def __init__(self, resp: Any, what: str) -> None:
        self._resp = resp
        self._what = what
        self._closed = False
        self.opened = time.monotonic()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            self._resp.shutdown()
        with contextlib.suppress(Exception):
            self._resp.release_conn()

    def __iter__(self) -> Iterator[Obj]:
        buf = b""
        try:
            for chunk in self._resp.stream(amt=None, decode_content=True):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    if raw.strip():
                        yield self._event(raw)
                if self._closed:
                    return
        except (urllib3.exceptions.HTTPError, OSError, AttributeError, ValueError) as err:
            # AttributeError/ValueError: urllib3 reading from a connection close() shut down
            if self._closed:
                return
            raise KubeUnavailable(0, f"{self._what}: stream broke: {err}") from err
        finally:
            with contextlib.suppress(Exception):
                self._resp.release_conn()

    def _event(self, raw: bytes) -> Obj:
        try:
            event = orjson.loads(raw)
        except ValueError as err:
            raise KubeUnavailable(0, f"{self._what}: undecodable event {raw[:100]!r}") from err
        if not isinstance(event, dict):
            raise KubeUnavailable(0, f"{self._what}: event is not an object: {raw[:100]!r}")
        if event.get("type") == "ERROR":
            status = event.get("object") or {}
            code = int(status.get("code") or 0)
            message = f"{self._what}: {status.get('message') or 'error event'}"
            if code == 410:
                raise Expired(410, message, str(status.get("reason") or "Expired"))
            raise KubeUnavailable(code, message, str(status.get("reason") or ""))
        return event


def _status_of(err: ApiException) -> tuple[str, str]:
    """(message, reason) from the Status body of a refused request."""
    try:
        body = json.loads(err.body or "{}")
    except (ValueError, TypeError):
        return str(err.body or err.reason)[:300], ""
    if not isinstance(body, dict):
        return str(body)[:300], ""
    return str(body.get("message") or err.reason)[:500], str(body.get("reason") or "")


__all__ = ["PATCH_TYPES", "KubeClient", "KubeError", "Obj", "Watch"]
