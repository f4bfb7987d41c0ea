"""One watch stream: which events a watcher gets, in what order, and when it ends.

Semantics (kube-apiserver's cacher, `cache_watcher.go`): `resourceVersion` unset or "0" starts with
a synthetic ADDED for every matching object, then live changes; a specific version replays only
later changes (410 Expired as an ERROR event inside the 200 stream if that history is compacted);
an object that stops matching the selectors arrives as DELETED (its previous state, the new
resourceVersion) and one that starts matching as ADDED. `allowWatchBookmarks` adds BOOKMARK events
(every `bookmark_interval` seconds when idle, and just before a `timeoutSeconds` close).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from lab.apiserver.control import Control
from lab.apiserver.history import Change
from lab.apiserver.resources import ResourceType
from lab.apiserver.selectors import Matcher
from lab.apiserver.status import APIError, bad_request
from lab.apiserver.store import Store

Obj = dict[str, Any]
Event = Obj  # {"type": ..., "object": ...}


def with_rv(obj: Obj, rv: int) -> Obj:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(rv)}}


def frame(etype: str, raw: bytes) -> bytes:
    """One event line, built around the object's JSON serialised once at write time."""
    return b'{"type":"%s","object":%s}\n' % (etype.encode(), raw)


def encode(event: Event) -> bytes:
    return orjson.dumps(event) + b"\n"


def translate(change: Change, matcher: Matcher | None) -> bytes | None:  # noqa: PLR0911
    if matcher is None:
        return frame(change.type, change.raw)
    now = change.type != "DELETED" and matcher(change.obj)
    if change.type == "ADDED":
        return frame("ADDED", change.raw) if now else None
    before = change.old is not None and matcher(change.old)
    if change.type == "DELETED":
        return frame("DELETED", change.raw) if before or matcher(change.obj) else None
    if now and before:
        return frame("MODIFIED", change.raw)
    if now:
        return frame("ADDED", change.raw)
    if before and change.old is not None:
        return encode({"type": "DELETED", "object": with_rv(change.old, change.rv)})
    return None


class WatchStream:
    """Iterate `events()` for the stream's lifetime; `alive()` is polled while idle."""

    def __init__(  # noqa: PLR0917
        self,
        storage: Store,
        control: Control,
        rt: ResourceType,
        namespace: str | None,
        matcher: Matcher | None,
        query: dict[str, str],
        bookmark_interval: float,
        flag: Callable[[str], bool],
    ) -> None:
        self.storage, self.control, self.rt, self.ns, self.matcher = storage, control, rt, namespace, matcher
        self.convert: Callable[[Obj], Obj] | None = None
        self.shown = rt  # the type named in bookmarks (differs for a view)
        self.bookmarks = flag("allowWatchBookmarks")
        self.send_initial = flag("sendInitialEvents")
        self.bookmark_interval = bookmark_interval
        raw_timeout = query.get("timeoutSeconds", "")
        try:
            timeout = float(raw_timeout) if raw_timeout else random.uniform(1800, 3600)  # noqa: S311
        except ValueError:
            raise bad_request(f"invalid timeoutSeconds {raw_timeout!r}") from None
        self.deadline = time.monotonic() + max(0.0, timeout)
        self.rv_param = query.get("resourceVersion", "")
        if self.rv_param not in ("", "0") and not self.rv_param.isdigit():
            raise bad_request(f'invalid resource version "{self.rv_param}"')

    def _start(self) -> tuple[int, list[tuple[Obj, bytes]], int, int]:
        with self.storage.lock:
            epoch = self.control.watch_epoch
            history = self.storage.history
            if self.rv_param in ("", "0") or self.send_initial:
                cursor = history.end
                listed = self.storage.list_rt(self.rt, self.ns)
                return cursor, list(zip(listed.items, listed.encoded, strict=True)), history.rv, epoch
            rv = int(self.rv_param)
            return history.cursor_for(rv), [], rv, epoch

    def events(self, alive: Callable[[], bool]) -> Iterator[bytes]:  # noqa: PLR0912
        """Event lines (JSON + newline) until the stream should end."""
        try:
            cursor, snapshot, last_rv, epoch = self._start()
        except APIError as e:
            yield encode({"type": "ERROR", "object": e.status_body()})
            return
        for obj, raw in snapshot:
            if self.matcher is None or self.matcher(obj):
                yield self._view(frame("ADDED", raw))
        if self.send_initial and self.bookmarks:
            yield self._bookmark(last_rv, initial_end=True)
        next_bookmark = time.monotonic() + self.bookmark_interval
        history = self.storage.history
        while True:
            now = time.monotonic()
            if now >= self.deadline:
                if self.bookmarks:
                    yield self._bookmark(last_rv)
                return
            if self.control.paused:
                self.control.wait_running(min(1.0, self.deadline - now))
                continue
            wait = min(1.0, self.deadline - now, max(0.0, next_bookmark - now) if self.bookmarks else 1.0)
            error: APIError | None = None
            with self.storage.lock:
                if self.control.watch_epoch != epoch or history.closed:
                    return
                try:
                    batch, cursor = history.read(cursor, wait)
                except APIError as e:
                    error = e
                caught_up = history.rv if cursor == history.end else None
                if self.control.watch_epoch != epoch or history.closed:
                    return
            if error is not None:  # written outside the lock: a slow client must not stall writers
                yield encode({"type": "ERROR", "object": error.status_body()})
                return
            for change in batch:
                if change.key != self.rt.key or (self.ns and change.namespace != self.ns):
                    continue
                line = translate(change, self.matcher)
                if line is not None:
                    yield self._view(line)
            if batch:
                last_rv = batch[-1].rv
            if caught_up is not None:
                last_rv = max(last_rv, caught_up)
            if self.bookmarks and time.monotonic() >= next_bookmark:
                yield self._bookmark(last_rv)
                next_bookmark = time.monotonic() + self.bookmark_interval
            if not batch and not alive():
                return

    def _view(self, line: bytes) -> bytes:
        """Re-encode for a resource served as a view of another (events.k8s.io over core events)."""
        if self.convert is None:
            return line
        event = orjson.loads(line)
        event["object"] = self.convert(event["object"])
        return encode(event)

    def _bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        meta: Obj = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.shown.kind, "apiVersion": self.shown.api_version, "metadata": meta}
        return encode({"type": "BOOKMARK", "object": obj})
