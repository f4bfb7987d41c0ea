"""events.k8s.io/v1 Events: a second view of the core/v1 Events, as on a real server.

Both groups read and write the same objects (kube-apiserver stores one Event and converts,
`pkg/apis/events/v1` conversion), so an event recorded through one API is listed through the
other. Field mapping: regarding↔involvedObject, note↔message, reportingController↔
reportingComponent, deprecatedSource↔source, deprecatedFirstTimestamp↔firstTimestamp,
deprecatedLastTimestamp↔lastTimestamp, deprecatedCount↔count; the rest keep their names.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
BACK = {core: v1 for v1, core in RENAMES.items()}
VIEW_KEY = "events.events.k8s.io"


def to_core(obj: Obj) -> Obj:
    out = {RENAMES.get(k, k): v for k, v in obj.items()}
    out["apiVersion"], out["kind"] = "v1", "Event"
    return out


def to_v1(obj: Obj) -> Obj:
    out = {BACK.get(k, k): v for k, v in obj.items()}
    out["apiVersion"], out["kind"] = "events.k8s.io/v1", "Event"
    return out
