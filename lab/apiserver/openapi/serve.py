"""HTTP answers for `/openapi/v2`, `/openapi/v3` and `/openapi/v3/<group-version>?hash=H`.

As kube-openapi's handlers: the v3 root lists each document's `serverRelativeURL` with the
current hash; a request with a stale hash is redirected (301) to the current URL, one with the
current hash is immutable (`Cache-Control: public, immutable`, `Expires` a year ahead), one
without a hash is served fresh.

`/openapi/v2` is JSON when JSON is acceptable. kubectl asks for its protobuf form
(`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, gnostic's `openapi_v2.Document`)
only as a fallback — when a kind is in no /openapi/v3 document (a file that is not a Kubernetes
object, a CRD not yet created); the lab answers a valid but empty protobuf document (swagger,
info, no paths or definitions), so kubectl skips client-side validation of the unknown kind and
reports what it reports against a real cluster (`no matches for kind ...`). A documented limit:
protobuf v2 carries no schemas; everything kubectl needs comes from v3.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field

import orjson

from lab.apiserver.openapi.documents import Documents
from lab.apiserver.status import APIError, route_not_found

YEAR = 365 * 24 * 3600


@dataclass
class Reply:
    code: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads here are < 128 bytes: one-byte lengths)."""
    return bytes([number << 3 | 2, len(payload)]) + payload


def empty_v2_protobuf() -> bytes:
    """`openapi_v2.Document{swagger: "2.0", info: {title, version}, paths: {}}`."""
    info = _field(1, b"Kubernetes") + _field(2, b"v1.37.1-fip-lab")
    return _field(1, b"2.0") + _field(2, info) + _field(8, b"")


def _accepts_json(accept: str | None) -> bool:
    if not accept:
        return True
    kinds = [e.split(";")[0].strip().lower() for e in accept.split(",")]
    return any(k in ("application/json", "*/*", "application/*") for k in kinds)


def answer(docs: Documents, segs: list[str], query: dict[str, str], accept: str | None) -> Reply:
    if segs == ["openapi", "v2"]:
        if _accepts_json(accept):
            return Reply(200, docs.v2())
        if PROTOBUF_V2 in (accept or ""):
            return Reply(200, empty_v2_protobuf(), {"Content-Type": "application/octet-stream"})
        raise APIError(
            406,
            "NotAcceptable",
            f"only the following media types are accepted: application/json, {PROTOBUF_V2}",
            {},
        )
    if segs == ["openapi", "v3"]:
        return Reply(200, orjson.dumps(docs.root()))
    key = "/".join(segs[2:])
    built = docs.v3(key)
    if built is None:
        raise route_not_found()
    raw, digest = built
    wanted = query.get("hash")
    if wanted is not None and wanted != digest:
        return Reply(301, b"", {"Location": f"/openapi/v3/{key}?hash={digest}"})
    headers = {"Etag": f'"{digest}"'}
    if wanted is not None:
        headers["Cache-Control"] = "public, immutable"
        headers["Expires"] = email.utils.formatdate(time.time() + YEAR, usegmt=True)
    return Reply(200, raw, headers)
