"""Watch responses: chunked, newline-delimited `{"type", "object"}` events, flushed one by one,
as JSON objects, as one-row Tables when kubectl asks for `as=Table` (`kubectl get -w`; column
definitions in the first event only, as kube-apiserver streams them), or as
PartialObjectMetadata for metadata-only watches.

A mixin of `lab.apiserver.handler.Handler` (the request plumbing lives there).
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

import orjson

from lab.apiserver import events, media, tables
from lab.apiserver.routes import Route
from lab.apiserver.watch import WatchStream

if TYPE_CHECKING:
    from lab.apiserver.server import APIServer


class WatchResponses(BaseHTTPRequestHandler):
    api: APIServer
    _wanted: media.Wanted
    _streaming: bool

    def _matcher(self, route: Route) -> Any:
        raise NotImplementedError

    def _watch(self, route: Route) -> None:
        view = route.rt.key == events.VIEW_KEY
        rt = self.api.registry.lookup("events") if view else route.rt
        stream = WatchStream(
            self.api.storage, self.api.control, rt, route.namespace, self._matcher(route),
            route.query, self.api.bookmark_interval, route.flag,
        )  # fmt: skip
        if view and not self._wanted.table:
            stream.convert, stream.shown = events.to_v1, route.rt
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._streaming = True
        self.api.open_watches.add(self)
        lines = stream.events(self._client_alive)
        if self._wanted.table:
            lines = self._table_events(route, lines)
        elif self._wanted.partial:
            lines = self._metadata_events(lines)
        try:
            for data in lines:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            self.api.open_watches.discard(self)

    def _table_events(self, route: Route, lines: Iterator[bytes]) -> Iterator[bytes]:
        """Each watch event's object as a one-row Table; column definitions in the first only."""
        include = tables.include_mode(route.query)
        version, first = self._wanted.table_version, True
        shown = self.api.registry.lookup("events") if route.rt.key == events.VIEW_KEY else route.rt
        for line in lines:
            event = orjson.loads(line)
            obj = event.get("object") or {}
            if event.get("type") in ("ADDED", "MODIFIED", "DELETED") and obj.get("kind") != "Status":
                meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
                event["object"] = tables.table(
                    shown, [obj], self.api.storage.clock(), meta, include, version=version, with_columns=first
                )
                first = False
            yield orjson.dumps(event) + b"\n"

    def _metadata_events(self, lines: Iterator[bytes]) -> Iterator[bytes]:
        """`as=PartialObjectMetadata` watches (the metadata informers): objects cut to metadata."""
        version = self._wanted.table_version
        for line in lines:
            event = orjson.loads(line)
            obj = event.get("object") or {}
            if (
                event.get("type") in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK")
                and obj.get("kind") != "Status"
            ):
                event["object"] = tables.partial(obj, version)
            yield orjson.dumps(event) + b"\n"

    def _client_alive(self) -> bool:
        """False once the client has closed its end (checked while a watch is idle)."""
        sock: socket.socket = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable and not sock.recv(1, socket.MSG_PEEK):
                return False
        except OSError:
            return False
        return True
