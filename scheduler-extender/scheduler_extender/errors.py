"""Errors of the extender layer.

    FipError (fip.core.errors)
    └── ExtenderError
        ├── BadRequest      the request body does not parse or has the wrong shape (HTTP 400)
        ├── TooLarge        the body exceeds --max-body-bytes (HTTP 413)
        ├── NotReady        caches not synced or the store unusable (bind answers with Error)
        └── OverCount       a concurrent bind took the last IP a Deployment's replicas allow

Every HTTP error reply is JSON `{"Error": message}`: the scheduler (and a person with curl) reads
what was wrong, never an HTML page or a traceback.
"""

from __future__ import annotations

from fip.core.errors import FipError


class ExtenderError(FipError):
    status = 500


class BadRequest(ExtenderError):
    status = 400


class TooLarge(ExtenderError):
    status = 413


class NotReady(ExtenderError):
    status = 503


class OverCount(ExtenderError):
    status = 409
