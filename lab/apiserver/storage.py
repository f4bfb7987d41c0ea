"""`Storage`: the object store plus a copy-in/copy-out API for in-process callers.

Test set-up and lab components in the same process use these methods; they behave as the
matching HTTP requests do (same validation, defaults, resourceVersions, watch events, errors as
`APIError`) and never hand out the stored dicts. Resources are named as `"pods"`,
`"deployments.apps"`, `"subnets.fip.io"`, a kind (`"Pod"`) or a short name (`"po"`).
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import orjson

from lab.apiserver import pods
from lab.apiserver.deletion import DeleteOptions
from lab.apiserver.listing import ListResult
from lab.apiserver.selectors import combine, field_matcher, label_matcher
from lab.apiserver.status import APIError
from lab.apiserver.store import Store

Obj = dict[str, Any]
T = TypeVar("T")

__all__ = ["DeleteOptions", "ListResult", "Storage", "deep_copy"]


def deep_copy(obj: T) -> T:
    return cast(T, orjson.loads(orjson.dumps(obj)))


class Storage(Store):
    # ----- in-process convenience API (copies in, copies out) -------------------------------------

    def create(
        self, resource: str, obj: Obj, namespace: str | None = None, *, keep_status: bool = False
    ) -> Obj:
        """Create like a POST; `keep_status=True` stores `status` as given (test set-up).

        `apiVersion`/`kind` may be left out here (the HTTP API requires them for custom resources)."""
        rt = self.rt(resource)
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        body = {"apiVersion": rt.api_version, "kind": rt.kind, **deep_copy(obj)}
        return deep_copy(self.create_rt(rt, ns, body, keep_status=keep_status))

    def get(self, resource: str, name: str, namespace: str | None = None) -> Obj:
        rt = self.rt(resource)
        with self.lock:
            return deep_copy(self.current(rt, namespace or "", name))

    def try_get(self, resource: str, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return self.get(resource, name, namespace)
        except APIError:
            return None

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        labels: str | None = None,
        fields: str | None = None,
    ) -> list[Obj]:
        rt = self.rt(resource)
        m = combine(label_matcher(labels), field_matcher(fields, rt.selectable_fields, rt.kind))
        return deep_copy(self.list_rt(rt, namespace, m).items)

    def update(self, resource: str, obj: Obj, *, subresource: str = "") -> Obj:
        rt = self.rt(resource)
        meta = obj.get("metadata") or {}
        body = {"apiVersion": rt.api_version, "kind": rt.kind, **deep_copy(obj)}
        out = self.update_rt(rt, meta.get("namespace"), meta["name"], body, subresource=subresource)
        return deep_copy(out)

    def patch(
        self,
        resource: str,
        name: str,
        body: Any,
        namespace: str | None = None,
        *,
        patch_type: str = "merge",
        subresource: str = "",
    ) -> Obj:
        rt = self.rt(resource)
        return deep_copy(
            self.patch_rt(rt, namespace, name, patch_type, deep_copy(body), subresource=subresource)
        )

    def delete(
        self,
        resource: str,
        name: str,
        namespace: str | None = None,
        *,
        grace_period: int | None = None,
        propagation: str | None = None,
        uid: str | None = None,
    ) -> Obj:
        rt = self.rt(resource)
        opts = DeleteOptions(grace_period=grace_period, propagation=propagation, uid=uid)
        return deep_copy(self.delete_rt(rt, namespace, name, opts))

    def bind(
        self,
        namespace: str,
        name: str,
        node: str,
        *,
        uid: str | None = None,
        annotations: dict[str, str] | None = None,
    ) -> Obj:
        body: Obj = {
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
            "target": {"kind": "Node", "name": node},
        }
        if uid:
            body["metadata"]["uid"] = uid
        return deep_copy(pods.bind(self, namespace, name, body))

    def count(self, resource: str) -> int:
        with self.lock:
            return len(self._bucket(self.rt(resource)))
