"""The Kubernetes adapter: the only module that imports `kubernetes`.

A thin layer over the official client: load a kubeconfig (or the in-cluster service account),
make the few reads fip needs, and return plain decoded JSON dicts (responses are read with
`_preload_content=False` and `json.loads`, skipping the client's model deserialisation, which
costs milliseconds per pod). Every `kubernetes` / urllib3 exception becomes a `fip.kube.errors`
error here, once, with the request in the message.

Callers must know: methods block for at most `timeout` seconds; objects are raw API JSON
(`metadata`, `spec`, `status`), so read them with `.get`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes.client
import kubernetes.config
import urllib3
from kubernetes.client.rest import ApiException

from fip.kube.errors import Expired, KubeError, KubeUnavailable, NotFound

Obj = dict[str, Any]


class KubeClient:
    """Reads for fip's components. `kubeconfig` None means in-cluster configuration."""

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
            ) from None
        self.server = str(cfg.host)
        self.timeout = timeout
        self._api = kubernetes.client.ApiClient(cfg)
        self.core = kubernetes.client.CoreV1Api(self._api)
        self.custom = kubernetes.client.CustomObjectsApi(self._api)

    def close(self) -> None:
        self._api.close()

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            resp = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            return json.loads(resp.data)
        except ApiException as err:
            message = _status_message(err)
            if err.status == 404:
                raise NotFound(404, f"{what}: not found") from None
            if err.status == 410:
                raise Expired(410, f"{what}: {message}") from None
            if err.status is None or err.status >= 500:
                raise KubeUnavailable(
                    err.status or 0, f"{what}: API server error {err.status}: {message}"
                ) from None
            raise KubeError(err.status, f"{what}: refused ({err.status} {err.reason}): {message}") from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise KubeUnavailable(0, f"{what}: no answer from {self.server}: {err}") from None
        except ValueError as err:
            raise KubeUnavailable(0, f"{what}: undecodable answer from {self.server}: {err}") from None

    def get_pod(self, namespace: str, name: str) -> Obj:
        pod: Obj = self._call(f"get pod {namespace}/{name}", self.core.read_namespaced_pod, name, namespace)
        return pod

    def list_pods(self, *, node: str | None = None, namespace: str | None = None) -> Obj:
        """The PodList (with `metadata.resourceVersion` for a following watch)."""
        selector = f"spec.nodeName={node}" if node else None
        kwargs: dict[str, Any] = {"field_selector": selector} if selector else {}
        if namespace:
            lst: Obj = self._call(
                f"list pods in {namespace}", self.core.list_namespaced_pod, namespace, **kwargs
            )
        else:
            lst = self._call("list pods", self.core.list_pod_for_all_namespaces, **kwargs)
        return lst

    def get_node(self, name: str) -> Obj:
        node: Obj = self._call(f"get node {name}", self.core.read_node, name)
        return node

    def list_cluster_objects(self, group: str, version: str, plural: str) -> list[Obj]:
        lst = self._call(
            f"list {plural}.{group}", self.custom.list_cluster_custom_object, group, version, plural
        )
        items: list[Obj] = lst.get("items") or []
        return items

    def watch_pods(self, *, node: str, resource_version: str, timeout_seconds: int = 300) -> Iterator[Obj]:
        """Watch events (`{"type", "object"}`) of pods on `node` from `resource_version`; ends when
        the server closes the stream. Raises Expired on a 410 ERROR event (list again)."""
        what = f"watch pods on node {node}"
        try:
            resp = self.core.list_pod_for_all_namespaces(
                field_selector=f"spec.nodeName={node}",
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout_seconds,
                _preload_content=False,
                _request_timeout=(self.timeout, timeout_seconds + self.timeout),
            )
        except ApiException as err:
            raise KubeUnavailable(err.status or 0, f"{what}: {_status_message(err)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise KubeUnavailable(0, f"{what}: no answer from {self.server}: {err}") from None
        buf = b""
        try:
            for chunk in resp.stream(amt=None):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    if not raw.strip():
                        continue
                    event: Obj = json.loads(raw)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        if status.get("code") == 410:
                            raise Expired(410, f"{what}: {status.get('message', 'resourceVersion too old')}")
                        raise KubeUnavailable(
                            int(status.get("code") or 0), f"{what}: {status.get('message')}"
                        )
                    yield event
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise KubeUnavailable(0, f"{what}: stream broke: {err}") from None
        finally:
            resp.release_conn()


def _status_message(err: ApiException) -> str:
    try:
        body = json.loads(err.body or "{}")
    except ValueError:
        return str(err.body or err.reason)[:300]
    return str(body.get("message") or err.reason)[:300]
