"""Typed timestamps re-encoded as the real server does: `metav1.Time` is RFC 3339 in UTC truncated
to seconds (`2026-01-02T03:04:05Z`), `metav1.MicroTime` keeps microseconds (`...05.123456Z`).
Clients send other spellings (the Python client: `2026-01-02T03:04:05.123456+00:00`); a value that
is not a timestamp is a 400, as the Go decoder answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lab.apiserver.status import APIError, bad_request

Obj = dict[str, Any]
TIME, MICRO = "Time", "MicroTime"
CONTAINER_STATES = [
    f"{state}.{kind}.{field}"
    for state in ("state", "lastState")
    for kind, fields in (("running", ("startedAt",)), ("terminated", ("startedAt", "finishedAt")))
    for field in fields
]
FIELDS: dict[str, list[tuple[str, str]]] = {
    "Event": [
        ("firstTimestamp", TIME),
        ("lastTimestamp", TIME),
        ("eventTime", MICRO),
        ("series.lastObservedTime", MICRO),
    ],
    "Lease": [("spec.acquireTime", MICRO), ("spec.renewTime", MICRO)],
    "Pod": [
        ("status.startTime", TIME),
        ("status.conditions[].lastProbeTime", TIME),
        ("status.conditions[].lastTransitionTime", TIME),
        *[(f"status.containerStatuses[].{p}", TIME) for p in CONTAINER_STATES],
        *[(f"status.initContainerStatuses[].{p}", TIME) for p in CONTAINER_STATES],
    ],
    "Node": [
        ("status.conditions[].lastHeartbeatTime", TIME),
        ("status.conditions[].lastTransitionTime", TIME),
    ],
    "Job": [("status.startTime", TIME), ("status.completionTime", TIME)],
    "CronJob": [("status.lastScheduleTime", TIME), ("status.lastSuccessfulTime", TIME)],
}
for _kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
    FIELDS[_kind] = [
        ("status.conditions[].lastUpdateTime", TIME),
        ("status.conditions[].lastTransitionTime", TIME),
    ]


def rfc3339(t: float) -> str:
    """A Unix time as metav1.Time (server-set creation/deletion timestamps)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode(value: Any, kind: str) -> Any:
    if value is None or value == "":
        return value
    if not isinstance(value, str):
        raise bad_request(
            f"json: cannot unmarshal {type(value).__name__} into Go value of type metav1.{kind}"
        )
    try:
        stamp = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise bad_request(
            f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse "{value}" as a timestamp'
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    stamp = stamp.astimezone(UTC)
    if kind == MICRO:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _visit(node: Any, parts: list[str], kind: str) -> None:
    if not parts or not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        for item in node.get(head[:-2]) or []:
            _visit(item, rest, kind)
    elif not rest:
        if head in node:
            node[head] = encode(node[head], kind)
    else:
        _visit(node.get(head), rest, kind)


def normalize(kind: str, obj: Obj) -> None:
    """Re-encode the known timestamp fields of `obj` in place (400 on a malformed one)."""
    for path, typ in FIELDS.get(kind, ()):
        try:
            _visit(obj, path.split("."), typ)
        except APIError:
            raise
        except (AttributeError, TypeError):
            continue
