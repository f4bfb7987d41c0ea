"""Lists as kube-apiserver serves them: sorted by namespace/name (etcd key order), `limit` and
`continue` pages that are one consistent snapshot (the first page's resourceVersion, rebuilt from
the change history; 410 once compacted), `resourceVersionMatch=Exact` snapshots, and a future
resourceVersion waited for up to 3 s (then 504 "Too large resource version")."""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

import base64
import bisect
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from lab.apiserver.resources import ResourceType
from lab.apiserver.selectors import Matcher
from lab.apiserver.status import APIError, bad_request, expired

if TYPE_CHECKING:
    from lab.apiserver.store import Store

Obj = dict[str, Any]
Key = tuple[str, str]


@dataclass(slots=True)
class ListResult:
    items: list[Obj]
    resource_version: str
    continue_token: str
    remaining: int | None
    encoded: list[bytes]  # the items as JSON, serialised once at write time (same order)


def wait_for_rv(store: Store, rv: int, timeout: float) -> None:
    """Block until the store has reached `rv`; 504 'Too large resource version' after `timeout`."""
    deadline = time.monotonic() + timeout
    with store.lock:
        while store.history.rv < rv:
            left = deadline - time.monotonic()
            if left <= 0:
                raise APIError(
                    504,
                    "Timeout",
                    f"Too large resource version: {rv}, current: {store.history.rv}",
                    {
                        "causes": [
                            {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                        ],
                        "retryAfterSeconds": 1,
                    },
                )
            store.cond.wait(left)


def _as_of(  # noqa: PLR0917
    store: Store,
    rt: ResourceType,
    rv: int,
    bucket: dict[Key, Obj],
    encoded: dict[Key, bytes],
    keys: list[Key],
) -> tuple[dict[Key, Obj], dict[Key, bytes], list[Key]]:
    """The resource's objects as they were at `rv`, undoing later changes (continue pages are a
    consistent snapshot, as etcd serves them)."""
    undo: dict[Key, Obj | None] = {}
    for change in reversed(store.history.since(rv)):
        if change.key == rt.key:
            m = change.obj["metadata"]
            undo[(change.namespace, m["name"])] = change.old
    if not undo:
        return bucket, encoded, keys
    then = {k: o for k, o in bucket.items() if k not in undo}
    then.update({k: o for k, o in undo.items() if o is not None})
    raw = {k: encoded[k] if k not in undo else orjson.dumps(then[k]) for k in then}
    return then, raw, sorted(then)


def list_objects(
    store: Store,
    rt: ResourceType,
    ns: str | None,
    matcher: Matcher | None = None,
    *,
    limit: int = 0,
    cont: str = "",
    as_of: int | None = None,
) -> ListResult:
    """Sorted by namespace/name (etcd key order); `cont` pages and `as_of` read a past snapshot."""
    start: Key | None = None
    rv0 = 0
    if as_of is not None and not cont:
        with store.lock:
            if as_of > store.history.rv:
                raise APIError(
                    504, "Timeout", f"Too large resource version: {as_of}, current: {store.history.rv}"
                )
            store.history.check(as_of)
        rv0, cont = as_of, "exact"
    elif cont:
        start, rv0 = _decode_continue(cont)
        with store.lock:
            if rv0 < store.history.compacted_rv:
                raise expired(_CONTINUE_EXPIRED)
    with store.lock:
        rv = store.history.rv
        bucket = store._bucket(rt)
        keys = store._sorted.get(rt.key)
        if keys is None:
            keys = store._sorted[rt.key] = sorted(bucket)
        encoded = store._encoded.get(rt.key, {})
        if cont and rv0 < rv:
            bucket, encoded, keys = _as_of(store, rt, rv0, bucket, encoded, keys)
        if ns:
            keys = keys[bisect.bisect_left(keys, (ns, "")) : bisect.bisect_left(keys, (ns + "\x00", ""))]
        if start is not None:
            keys = keys[bisect.bisect_right(keys, start) :]
        if matcher is not None:
            keys = [k for k in keys if matcher(bucket[k])]
        if limit and len(keys) > limit:
            remaining = len(keys) - limit
            keys = keys[:limit]
            token = _encode_continue(keys[-1], rv0 if cont else rv)
        else:
            remaining, token = None, ""
        objs = [bucket[k] for k in keys]
        raws = [encoded[k] for k in keys]
    return ListResult(objs, str(rv0 if cont else rv), token, remaining, raws)


_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


def _encode_continue(start: Key, rv: int) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{start[0]}/{start[1]}"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[Key, int]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ns, _, name = str(raw["start"]).partition("/")
        return (ns, name), int(raw["rv"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise bad_request(f"continue key is not valid: {token!r}") from None
