"""Kubernetes `Status` error bodies, shaped as kube-apiserver sends them.

Every failure the fake server reports is an `APIError`; the HTTP layer turns it into a `Status`
JSON body with the same `code`, `reason`, `message` and `details` the real server uses
(apimachinery `pkg/api/errors`), so the official client raises `ApiException` with the same
`.status` and `.reason`.

Exception tree (this layer)::

    Exception
     └── APIError          code + reason + message (+ details); always a Status on the wire
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


class APIError(Exception):
    """A request the server refuses; `status_body()` is what goes on the wire."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: Obj | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retry_after = retry_after  # seconds: a `Retry-After` header and details.retryAfterSeconds
        if retry_after is not None:
            self.details = {**(details or {}), "retryAfterSeconds": retry_after}

    def status_body(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def success(code: int = 200, details: Obj | None = None) -> Obj:
    body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}
    if details is not None:
        body["details"] = details
    return body


def qualified(resource: str, group: str) -> str:
    """`pods` for the core group, `deployments.apps` otherwise (how messages name resources)."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str) -> Obj:
    """StatusDetails: `group` is omitempty, so the core group leaves it out."""
    out: Obj = {"name": name, "group": group, "kind": kind}
    if not group:
        del out["group"]
    return out


def not_found(resource: str, group: str, name: str) -> APIError:
    res = qualified(resource, group)
    return APIError(404, "NotFound", f'{res} "{name}" not found', _details(name, group, resource))


def already_exists(resource: str, group: str, name: str) -> APIError:
    res = qualified(resource, group)
    return APIError(
        409,
        "AlreadyExists",
        f'{res} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(resource: str, group: str, name: str, why: str) -> APIError:
    res = qualified(resource, group)
    return APIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {res} "{name}": {why}',
        _details(name, group, resource),
    )


STALE = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> APIError:
    """422 Invalid; `causes` are (field, reason, message) as in `field.Error`."""
    text = "; ".join(f"{field}: {msg}" for field, _, msg in causes)
    if len(causes) > 1:
        text = f"[{', '.join(f'{field}: {msg}' for field, _, msg in causes)}]"
    gk = f"{kind}.{group}" if group else kind
    return APIError(
        422,
        "Invalid",
        f'{gk} "{name}" is invalid: {text}',
        _details(name, group, kind)
        | {"causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]},
    )


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def expired(message: str) -> APIError:
    return APIError(410, "Expired", message)


def method_not_allowed(verb: str, resource: str) -> APIError:
    return APIError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({verb} {resource})",
        {},
    )


def route_not_found() -> APIError:
    return APIError(404, "NotFound", "the server could not find the requested resource", {})
