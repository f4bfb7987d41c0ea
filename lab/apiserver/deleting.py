"""DELETE responses: `DeleteOptions` from the body or the query (grace period, preconditions,
propagation policy, dry run), one object or a collection; what each answers (the object while it
is still being deleted, for pods and custom resources, else a `Status`), as kube-apiserver does.

A mixin of `lab.apiserver.handler.Handler` (the request plumbing lives there).
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from lab.apiserver.deletion import DeleteOptions
from lab.apiserver.routes import Route
from lab.apiserver.status import APIError, bad_request, success

if TYPE_CHECKING:
    from lab.apiserver.server import APIServer

Obj = dict[str, Any]
RETURNS_OBJECT_ON_DELETE = {"Pod"}


class DeleteResponses(BaseHTTPRequestHandler):
    api: APIServer

    def _decode(self, raw: bytes, rt_kind: str = "", *, patch: bool = False) -> Any:
        raise NotImplementedError

    def _matcher(self, route: Route) -> Any:
        raise NotImplementedError

    def _delete_options(self, route: Route, raw: bytes) -> DeleteOptions:
        q = route.query
        body: Obj = {}
        if raw.strip():
            parsed = self._decode(raw)
            body = parsed if isinstance(parsed, dict) else {}
        grace = body.get("gracePeriodSeconds", q.get("gracePeriodSeconds"))
        pre = body.get("preconditions") or {}
        propagation = body.get("propagationPolicy") or q.get("propagationPolicy")
        if body.get("orphanDependents") is True or q.get("orphanDependents", "").lower() == "true":
            propagation = propagation or "Orphan"
        if propagation not in (None, "Background", "Foreground", "Orphan"):
            raise APIError(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{propagation}": supported values: "Foreground", "Background", "Orphan", "nil"',
            )
        try:
            grace_int = None if grace in (None, "") else int(grace)
        except ValueError:
            raise bad_request(f"invalid gracePeriodSeconds {grace!r}") from None
        dry = q.get("dryRun") == "All" or body.get("dryRun") == ["All"]
        return DeleteOptions(grace_int, propagation, pre.get("uid"), pre.get("resourceVersion"), dry)

    def _delete(self, route: Route, raw: bytes, dry: bool) -> Obj:
        rt = route.rt
        opts = self._delete_options(route, raw)
        obj = self.api.storage.delete_rt(rt, route.namespace, route.name, opts)
        still_there = (
            bool(obj["metadata"].get("deletionTimestamp"))
            and self.api.storage._bucket(rt).get(
                (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            )
            is not None
        )
        if still_there or rt.kind in RETURNS_OBJECT_ON_DELETE or rt.custom or opts.dry_run:
            return obj
        return success(
            200, {"name": route.name, "group": rt.group, "kind": rt.plural, "uid": obj["metadata"].get("uid")}
        )

    def _delete_collection(self, route: Route, raw: bytes, dry: bool) -> Obj:
        rt, storage = route.rt, self.api.storage
        opts = self._delete_options(route, raw)
        items = storage.list_rt(rt, route.namespace, self._matcher(route)).items
        out = []
        for obj in items:
            m = obj["metadata"]
            try:
                out.append(storage.delete_rt(rt, m.get("namespace", ""), m["name"], opts))
            except APIError as e:
                if e.code != 404:
                    raise
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": storage.resource_version},
            "items": out,
        }
