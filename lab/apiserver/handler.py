"""The HTTP side: one `BaseHTTPRequestHandler` per connection (HTTP/1.1 keep-alive).

Request bodies are JSON or YAML by Content-Type (missing means JSON, as on the real server;
protobuf/CBOR get 415, `lab.apiserver.media`), except PATCH, whose Content-Type picks the patch
type. Responses follow `Accept`: objects, or Tables / metadata-only views (`lab.apiserver.tables`).
`/openapi/*` is answered by `lab.apiserver.openapi.serve`. Every error is a `Status` body.
Watches (`streaming`) and deletes (`deleting`) are mixins.
"""

# ruff: noqa: E501  (error messages are kube-apiserver's, verbatim)

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import yaml

from lab.apiserver import (
    access,
    discovery,
    events,
    fields,
    media,
    pods,
    routes,
    scale,
    schema,
    tables,
    validation,
)
from lab.apiserver import apply as applying
from lab.apiserver.deleting import DeleteResponses
from lab.apiserver.openapi import serve as openapi
from lab.apiserver.routes import Route
from lab.apiserver.selectors import combine, field_matcher, label_matcher
from lab.apiserver.status import APIError, bad_request, route_not_found, success
from lab.apiserver.streaming import WatchResponses

if TYPE_CHECKING:
    from lab.apiserver.server import APIServer

Obj = dict[str, Any]
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
UNSUPPORTED_PATCH = (
    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, "
    "application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
)
# Registries whose strategy has AllowCreateOnUpdate() == true: PUT on a missing object creates it.
CREATE_ON_UPDATE = {"Lease", "Event", "Endpoints", "Service"}


class Handler(WatchResponses, DeleteResponses):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: without this, ~40 ms per request
    server_version = "fip-lab-apiserver/1"
    api: APIServer  # set on the subclass made by APIServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are recorded in `api.requests` instead."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # ----- plumbing ------------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        self._warnings: list[str] = []
        self._streaming = False
        self._wanted = media.Wanted()
        self._extra_headers: dict[str, str] = {}
        code = 500
        try:
            body = self._read_body()
            segs, query = routes.split(self.path)
            code = self._dispatch(method, segs, query, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the fake must still answer a Status, never a traceback
            error = (
                e
                if isinstance(e, APIError)
                else APIError(500, "InternalError", f"Internal error occurred: {e!r}")
            )
            code = error.code
            if self._streaming:  # headers already sent: end the stream abruptly, as a broken server would
                self.close_connection = True
            else:
                if error.retry_after is not None:
                    self._extra_headers["Retry-After"] = str(error.retry_after)
                self._send_json(error.code, error.status_body())
        self.api.requests.append((method, self.path, code))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _decode(self, raw: bytes, rt_kind: str = "", *, patch: bool = False) -> Any:
        """A request body as JSON values; 415 for a media type the lab does not decode (`media`)."""
        ctype = media.base(self.headers.get("Content-Type"))
        fmt = (
            ("yaml" if ctype == "application/apply-patch+yaml" else "json")
            if patch
            else media.body_format(ctype)
        )
        if not raw.strip():
            raise bad_request("Object 'Kind' is missing in '{}'" if rt_kind else "empty request body")
        try:
            if fmt == "yaml":
                return yaml.safe_load(raw)
            return orjson.loads(raw)
        except (orjson.JSONDecodeError, yaml.YAMLError) as e:
            raise bad_request(f"couldn't get version/kind; json parse error: {e}") from None

    def _send_json(self, code: int, body: Any) -> None:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        for w in self._warnings:
            self.send_header("Warning", f'299 - "{w}"')
        for k, v in self._extra_headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_bytes(self, code: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(code)
        headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Cache-Control", "no-cache, private")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_text(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # ----- routing -------------------------------------------------------------------------------

    def _dispatch(self, method: str, segs: list[str], query: dict[str, str], body: bytes) -> int:
        api = self.api
        if segs and segs[0] == "_lab":
            return self._lab(method, segs[1:], body)
        if method == "GET" and segs[:1] == ["openapi"]:
            reply = openapi.answer(api.openapi, segs, query, self.headers.get("Accept"))
            self._send_bytes(reply.code, reply.body, reply.headers)
            return reply.code
        if method == "GET":
            static = self._static(segs)
            if static is not None:
                if isinstance(static, str):
                    self._send_text(200, static)
                else:
                    self._send_json(200, static)
                return 200
        route = routes.resolve(api.registry, method, segs, query)
        if route is None:
            raise route_not_found()
        api.control.apply(route.verb, route.fault_resource)
        self._wanted = media.negotiate(
            self.headers.get("Accept"), table_ok=route.verb in ("get", "list", "watch")
        )
        if route.verb == "watch":
            self._watch(route)
            return 200
        view = route.rt.key == events.VIEW_KEY
        code, out = self._event_view(route, body) if view else self._resource(route, body)
        self._send_json(code, out)
        return code

    def _static(self, segs: list[str]) -> Obj | str | None:  # noqa: PLR0911
        reg = self.api.registry
        path = "/" + "/".join(segs)
        if path in ("/healthz", "/readyz", "/livez"):
            return "ok"
        if path == "/version":
            return discovery.VERSION
        if path == "/api":
            return discovery.api_versions(self.api.url.split("//", 1)[1])
        if path == "/apis":
            return discovery.api_group_list(reg)
        if len(segs) == 2 and segs[0] == "apis":
            group = discovery.api_group(reg, segs[1])
            if group is None:
                raise route_not_found()
            return group
        if segs == ["api", "v1"] or (len(segs) == 3 and segs[0] == "apis"):
            gname, version = ("", "v1") if segs[0] == "api" else (segs[1], segs[2])
            found = discovery.resource_list(reg, gname, version)
            if found is None:
                raise route_not_found()
            return found
        return None

    def _lab(self, method: str, segs: list[str], body: bytes) -> int:
        control = self.api.control
        if method != "POST" or len(segs) != 1:
            raise route_not_found()
        op = segs[0]
        if op == "inject":
            args = orjson.loads(body or b"{}")
            control.inject(
                args["verb"],
                args["resource"],
                float(args.get("latency", 0.0)),
                args.get("status"),
                args.get("times"),
            )
        elif op in ("clear", "compact", "pause", "resume"):
            getattr(control, op)()
        elif op == "drop-watches":
            control.drop_watches()
        else:
            raise route_not_found()
        self._send_json(200, success())
        return 200

    # ----- resources -----------------------------------------------------------------------------

    def _matcher(self, route: Route) -> Any:
        rt, q = route.rt, route.query
        fields = q.get("fieldSelector")
        if route.name:
            fields = f"metadata.name={route.name}" + (f",{fields}" if fields else "")
        return combine(
            label_matcher(q.get("labelSelector")), field_matcher(fields, rt.selectable_fields, rt.kind)
        )

    def _event_view(self, route: Route, raw: bytes) -> tuple[int, Any]:
        """events.k8s.io/v1: the same Events as core/v1, converted both ways (`lab.apiserver.events`)."""
        storage = self.api.storage
        core = Route(
            storage.registry.lookup("events"),
            route.namespace,
            route.name,
            route.subresource,
            route.verb,
            route.query,
        )
        if route.verb in ("create", "update"):
            body = self._decode(raw, "Event")
            raw = orjson.dumps(events.to_core(body) if isinstance(body, dict) else body)
        if route.verb == "patch":
            from lab.apiserver import patch as patching

            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            ptype = PATCH_TYPES.get(ctype)
            if ptype is None:
                raise APIError(415, "UnsupportedMediaType", UNSUPPORTED_PATCH)
            body = self._decode(raw, patch=True)
            with storage.lock:
                view = events.to_v1(storage.current(core.rt, route.namespace or "", route.name))
                try:
                    patched = (
                        patching.json_patch(view, body)
                        if ptype == "json"
                        else patching.merge_patch(view, body)
                    )
                except patching.PatchError as e:
                    raise APIError(
                        400 if e.bad_format else 422, "BadRequest" if e.bad_format else "Invalid", str(e)
                    ) from None
                out = storage.update_rt(core.rt, route.namespace, route.name, events.to_core(patched))
            return 200, events.to_v1(out)
        code, out = self._resource(core, raw)
        if self._wanted.table or self._wanted.partial:  # printed from the core objects, as the same rows
            return code, out
        if isinstance(out, bytes):
            listed = orjson.loads(out)
            listed["apiVersion"] = "events.k8s.io/v1"
            listed["items"] = [events.to_v1(i) for i in listed["items"]]
            return code, listed
        if isinstance(out, dict) and out.get("kind") == "Event":
            return code, events.to_v1(out)
        if isinstance(out, dict) and out.get("kind") == "EventList":
            return code, {
                **out,
                "apiVersion": "events.k8s.io/v1",
                "items": [events.to_v1(i) for i in out["items"]],
            }
        return code, out

    def _resource(self, route: Route, raw: bytes) -> tuple[int, Any]:  # noqa: PLR0911, PLR0912
        storage, rt, ns, name, sub = (
            self.api.storage,
            route.rt,
            route.namespace,
            route.name,
            route.subresource,
        )
        dry = route.query.get("dryRun", "") == "All"
        if route.verb == "list":
            return 200, self._list(route)
        if route.verb == "get":
            with storage.lock:
                obj = storage.current(rt, ns or "", name)
            if sub == "scale":
                return 200, scale.view(rt, obj)
            return 200, self._shaped(
                route, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}, obj
            )
        if route.verb == "create":
            if sub == "binding":
                body = self._decode(raw, "Binding")
                pods.bind(storage, ns or "", name or (body.get("metadata") or {}).get("name", ""), body)
                return 201, success(201)
            if sub == "token":
                return 201, access.token_request(storage, ns or "", name, self._decode(raw, "TokenRequest"))
            if rt.verbs == ("create",):
                return 201, access.review(rt, self._decode(raw, rt.kind))
            if sub == "eviction":
                pods.evict(storage, ns or "", name, self._decode(raw, "Eviction"))
                return 201, success(201)
            if name:
                raise APIError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            body = self._decode(raw, rt.kind)
            self._unknown(rt, body, route)
            return 201, storage.create_rt(rt, ns, body, dry_run=dry, manager=self._manager(route))
        if route.verb == "update":
            body = self._decode(raw, rt.kind)
            if sub == "scale":
                return 200, scale.write(
                    self.api.storage, route.rt, route.namespace, route.name, body, "update"
                )
            self._unknown(rt, body, route)
            if not sub and rt.kind in CREATE_ON_UPDATE and isinstance(body, dict):
                with storage.lock:
                    missing = (storage._ns(rt, ns), name) not in storage._bucket(rt)
                    if missing:
                        body.setdefault("metadata", {})["name"] = name
                        body["metadata"].pop("resourceVersion", None)
                        return 201, storage.create_rt(rt, ns, body, dry_run=dry)
            return 200, storage.update_rt(
                rt, ns, name, body, subresource=sub, dry_run=dry, manager=self._manager(route)
            )
        if route.verb == "patch":
            return self._patch(route, raw, dry)
        if route.verb == "delete":
            return 200, self._delete(route, raw, dry)
        if route.verb == "deletecollection":
            return 200, self._delete_collection(route, raw, dry)
        raise route_not_found()

    def _list(self, route: Route) -> bytes:
        """The list body, assembled from each item's JSON serialised at write time (fast for 100k)."""
        rt, q = route.rt, route.query
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise bad_request(f"invalid limit {q.get('limit')!r}") from None
        exact = None
        wanted = q.get("resourceVersion", "")
        if wanted.isdigit() and int(wanted) > 0 and q.get("resourceVersionMatch") != "Exact":
            self.api.storage.wait_for_rv(int(wanted), 3.0)  # NotOlderThan: a fresher state or 504
        if q.get("resourceVersionMatch") == "Exact":
            if not q.get("resourceVersion", "").isdigit():
                raise bad_request('resourceVersionMatch "Exact" needs a resourceVersion')
            exact = int(q["resourceVersion"])
        result = self.api.storage.list_rt(
            rt, route.namespace, self._matcher(route), limit=limit, cont=q.get("continue", ""), as_of=exact
        )
        meta: Obj = {"resourceVersion": result.resource_version}
        if result.continue_token:
            meta["continue"] = result.continue_token
            if not q.get("labelSelector") and not q.get("fieldSelector"):  # unknown cheaply with selectors
                meta["remainingItemCount"] = result.remaining
        if self._wanted.table or self._wanted.partial:
            return orjson.dumps(self._shaped(route, result.items, meta, None))
        head = orjson.dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
        return head[:-1] + b',"items":[' + b",".join(result.encoded) + b"]}"

    def _shaped(self, route: Route, objs: list[Obj], meta: Obj, single: Obj | None) -> Obj:
        """The response form the Accept header chose: the object(s), a Table, or metadata only."""
        wanted = self._wanted
        if wanted.table:
            include = tables.include_mode(route.query)
            now = self.api.storage.clock()
            return tables.table(route.rt, objs, now, meta, include, version=wanted.table_version)
        if wanted.partial:
            if single is not None:
                return tables.partial(single, wanted.table_version)
            return tables.partial_list(objs, meta, wanted.table_version)
        return single if single is not None else {"items": objs}

    def _unknown(self, rt: Any, body: Any, route: Route) -> None:
        if not isinstance(body, dict):
            return
        mode = route.query.get("fieldValidation", "Warn")
        if rt.custom and rt.schema is not None:
            unknown = [p.lstrip(".") for p in schema.unknown(body, rt.schema)]
            if unknown and mode == "Strict":
                raise bad_request(", ".join(f".{p}: field not declared in schema" for p in unknown))
        else:
            found = fields.check(rt.group, rt.version, rt.kind, body, drop=mode != "Strict")
            if found is None:  # a kind without a generated definition: envelope fields only
                unknown = validation.unknown_fields(rt, body)
                validation.drop_fields(body, unknown)
            else:
                if found.type_error:
                    raise validation.decode_error(rt, found.type_error)
                unknown = found.unknown
            if unknown and mode == "Strict":
                raise validation.decode_error(
                    rt, "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in unknown)
                )
        if mode != "Ignore":
            self._warnings += [f'unknown field \\"{p}\\"' for p in unknown]

    def _manager(self, route: Route) -> str:
        """`fieldManager`, else the User-Agent's product (`OpenAPI-Generator` for the Python client)."""
        return route.query.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0]

    def _patch(self, route: Route, raw: bytes, dry: bool) -> tuple[int, Obj]:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        ptype = PATCH_TYPES.get(ctype)
        if ptype is None:
            raise APIError(415, "UnsupportedMediaType", UNSUPPORTED_PATCH)
        storage, rt = self.api.storage, route.rt
        if ptype == "apply":
            return self._apply(route, raw, dry)
        body = self._decode(raw, patch=True)
        if route.subresource == "scale":
            return 200, scale.write(self.api.storage, route.rt, route.namespace, route.name, body, ptype)

        def decode(patched: Obj) -> None:
            if not route.subresource:
                self._warnings += fields.check_patched(rt, patched, body, route.query)

        return 200, storage.patch_rt(
            rt, route.namespace, route.name, ptype, body, subresource=route.subresource, dry_run=dry,
            manager=self._manager(route), decode=decode,
        )  # fmt: skip

    def _apply(self, route: Route, raw: bytes, dry: bool) -> tuple[int, Obj]:
        storage, rt = self.api.storage, route.rt
        manager = route.query.get("fieldManager")
        if not manager:
            raise bad_request("PATCH /apply requires fieldManager to be set")
        body = self._decode(raw, rt.kind, patch=True)
        validation.check_shape(rt, body)
        if not route.subresource:
            self._warnings += fields.check_applied(rt, body, route.query, route.namespace, route.name)
        if (body.get("metadata") or {}).get("name") not in (None, route.name):
            raise bad_request("the name of the object does not match the name on the URL")
        body.setdefault("metadata", {})["name"] = route.name
        force = route.flag("force")
        with storage.lock:
            existing = storage._bucket(rt).get((storage._ns(rt, route.namespace), route.name))
            merged = applying.apply(
                existing, body, manager, force=force, api_version=rt.api_version, now=storage.now(),
                keyed=not rt.custom,
            )  # fmt: skip
            if existing is None:
                return 201, storage.create_rt(rt, route.namespace, merged, dry_run=dry)
            merged["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            return 200, storage._write(rt, existing, merged, route.subresource, dry)
