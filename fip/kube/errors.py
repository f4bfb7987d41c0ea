"""Errors of the Kubernetes adapter (all are `fip.core.errors.FipError`).

KubeError              the API server refused a request or could not be reached
├── NotFound           404: the object does not exist
├── Conflict           409: a stale resourceVersion, a failed UID precondition, already bound
├── Expired            410: a watch's resourceVersion is too old; list again
├── Invalid            400 / 422: the server rejected the body (the message says which field)
└── KubeUnavailable    no answer (connection refused, timeout, TLS) or a 5xx

Only `fip.kube.client` raises these; it converts the `kubernetes` package's exceptions once and
chains the original (`raise ... from err`), so a log with a traceback still shows the transport
error underneath. `status` is the HTTP status (0 when there was no answer at all); `reason` is
the Status body's `reason` (`AlreadyExists`, `Conflict`, ...), empty when there was none.
"""

from __future__ import annotations

from fip.core.errors import FipError


class KubeError(FipError):
    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    pass


class Expired(KubeError):
    pass


class Invalid(KubeError):
    pass


class KubeUnavailable(KubeError):
    pass


def error_for(status: int, message: str, reason: str = "") -> KubeError:
    """The error class that fits an HTTP status (0 = no answer)."""
    cls: type[KubeError]
    if status == 404:
        cls = NotFound
    elif status == 409:
        cls = Conflict
    elif status == 410:
        cls = Expired
    elif status in (400, 422):
        cls = Invalid
    elif status == 0 or status >= 500 or status == 429:
        cls = KubeUnavailable
    else:
        cls = KubeError
    return cls(status, message, reason)
