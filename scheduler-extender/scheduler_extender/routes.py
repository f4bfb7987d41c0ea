"""HTTP routes: decode -> verbs -> encode, with the error and size rules in one place.

Every reply is JSON. A body that is not JSON or has the wrong shape is 400 with
`{"Error": "..."}` naming the field; a body over `max_body` bytes is 413; an unknown verb is 404;
an internal fault is 500 with a JSON `Error` (never an HTML page, never a traceback in the reply).
Until the caches are synced and the store is usable, fip pods get a filter/bind `Error` (the
scheduler retries them) rather than answers from a cache that may be stale.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from fip.core.podrequest import wants_ip
from scheduler_extender import metrics, namescache, wire
from scheduler_extender.bind import Binder
from scheduler_extender.errors import BadRequest, ExtenderError, NotReady, TooLarge
from scheduler_extender.namescache import NamesCache
from scheduler_extender.verbs import Verbs

log = logging.getLogger("fip.extender")
VERBS = ("filter", "prioritize", "bind", "preempt")


def _json(body: object, status: int = 200) -> Response:
    """A reply; bytes are JSON already encoded (the cached-names fast paths)."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(data, status=status, mimetype="application/json")


def _raw(max_body: int) -> bytes:
    length = request.content_length
    if length is not None and length > max_body:
        raise TooLarge(
            f"request body of {length} bytes exceeds the limit of {max_body} bytes (--max-body-bytes)"
        )
    raw = request.stream.read(max_body + 1)
    if len(raw) > max_body:
        raise TooLarge(f"request body exceeds the limit of {max_body} bytes (--max-body-bytes)")
    if not raw:
        raise BadRequest("empty body; send the extender arguments as JSON")
    return bytes(raw)


def _parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise BadRequest(f"body is not valid JSON: {err}") from None


def _extender_args(raw: bytes, cache: NamesCache) -> wire.ExtenderArgs:
    """ExtenderArgs, with a Go-shaped names-mode body's NodeNames from `cache` (see namescache);
    anything that does not take that path cleanly is decoded whole, with the usual messages."""
    parts = namescache.split(raw)
    if parts is not None:
        head_raw, names_raw = parts
        try:
            head = orjson.loads(head_raw)
        except orjson.JSONDecodeError:
            head = None
        if isinstance(head, dict) and not namescache.has_names_key(head):
            entry = cache.get(names_raw)
            if entry is None:
                try:
                    arr = orjson.loads(names_raw)
                    if isinstance(arr, list):
                        entry = cache.put(namescache.Names(names_raw, wire.node_names(arr)))
                except (orjson.JSONDecodeError, BadRequest):
                    entry = None
            if entry is not None:
                return wire.decode_args(head, entry)
    return wire.decode_args(_parse(raw))


def register(app: Flask, verbs: Verbs, binder: Binder, *, prefix: str, max_body: int) -> None:
    bp = Blueprint("extender", __name__, url_prefix=prefix.rstrip("/") or None)
    view = verbs.view

    def ready_or_raise() -> None:
        problems = view.problems()
        if problems:
            raise NotReady("extender not ready: " + "; ".join(problems))

    def timed(verb: str, fn: Callable[[bytes], object]) -> Callable[[], Response]:
        latency, cpu = metrics.LATENCY.labels(verb), metrics.CPU.labels(verb)

        def handler() -> Response:
            start, start_cpu = time.perf_counter(), time.thread_time()
            try:
                return _json(fn(_raw(max_body)))
            finally:
                latency.observe(time.perf_counter() - start)
                cpu.observe(time.thread_time() - start_cpu)

        handler.__name__ = verb
        return handler

    names_cache = NamesCache()

    def do_filter(raw: bytes) -> object:
        args = _extender_args(raw, names_cache)
        if wants_ip(args.pod):
            try:
                ready_or_raise()
            except NotReady as err:
                return wire.error_filter_result(str(err))
        return verbs.filter(args)

    def do_prioritize(raw: bytes) -> object:
        args = _extender_args(raw, names_cache)
        if wants_ip(args.pod) and view.problems():
            names = args.node_names or [wire.node_name(n) for n in args.nodes or []]
            return wire.priority_list([(n, 0) for n in names])
        return verbs.prioritize(args)

    def do_bind(raw: bytes) -> object:
        args = wire.decode_binding(_parse(raw))
        try:
            ready_or_raise()
        except NotReady as err:
            return wire.binding_result(str(err))
        return wire.binding_result(binder.bind(args))

    def do_preempt(raw: bytes) -> object:
        args = wire.decode_preemption(_parse(raw))
        if wants_ip(args.pod) and view.problems():
            return wire.preemption_result({})
        return verbs.preempt(args)

    for verb, fn in (
        ("filter", do_filter),
        ("prioritize", do_prioritize),
        ("bind", do_bind),
        ("preempt", do_preempt),
    ):
        bp.add_url_rule(f"/{verb}", view_func=timed(verb, fn), methods=["POST"])
    app.register_blueprint(bp)
    _operations(app, verbs, prefix=prefix, max_body=max_body)


def _operations(app: Flask, verbs: Verbs, *, prefix: str, max_body: int) -> None:
    """Health, readiness, metrics and the JSON error handlers."""
    view = verbs.view

    @app.get("/healthz")
    def healthz() -> Response:
        return _json({"ok": True})

    @app.get("/readyz")
    def readyz() -> Response:
        problems = view.problems()
        return _json({"ready": not problems, "problems": problems}, 200 if not problems else 503)

    @app.get("/metrics")
    def metrics_page() -> Response:
        for use in view.definitions()[1].values():
            metrics.set_usage(use)
        return Response(metrics.exposition(), mimetype="text/plain; version=0.0.4; charset=utf-8")

    @app.errorhandler(ExtenderError)
    def extender_error(err: ExtenderError) -> Response:
        metrics.DECISIONS.labels(_verb(), "bad_request" if err.status == 400 else f"http_{err.status}").inc()
        return _json({"Error": str(err)}, err.status)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        status = err.code or 500
        if status == 404:
            message = f"no such endpoint {request.path}; the verbs are " + ", ".join(
                f"{prefix.rstrip('/')}/{v}" for v in VERBS
            )
        elif status == 413:
            message = f"request body exceeds the limit of {max_body} bytes (--max-body-bytes)"
        else:
            message = f"{err.name}: {err.description}"
        return _json({"Error": message}, status)

    @app.errorhandler(Exception)
    def internal(err: Exception) -> Response:
        log.exception("internal error", extra={"path": request.path})
        return _json({"Error": f"internal error in the fip extender: {type(err).__name__}: {err}"}, 500)


def _verb() -> str:
    last = request.path.rstrip("/").rsplit("/", 1)[-1]
    return last if last in VERBS else "other"
