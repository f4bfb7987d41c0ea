"""Errors of the Kubernetes adapter (all are `fip.core.errors.FipError`).

KubeError              the API server refused a request or could not be reached
├── NotFound           404: the object does not exist
├── Expired            410: a watch's resourceVersion is too old; list again
└── KubeUnavailable    no answer (connection refused, timeout, TLS) or a 5xx

Only `fip.kube.client` raises these; it converts the `kubernetes` package's exceptions once.
"""

from __future__ import annotations

from fip.core.errors import FipError


class KubeError(FipError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class NotFound(KubeError):
    pass


class Expired(KubeError):
    pass


class KubeUnavailable(KubeError):
    pass
