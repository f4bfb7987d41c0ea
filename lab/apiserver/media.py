"""Media types: which request bodies the lab decodes and which response forms a client may ask for.

Bodies: JSON (also when Content-Type is absent, as on the real server) and YAML. Kubernetes
protobuf (`application/vnd.kubernetes.protobuf`, sent by kubectl >= 1.32's typed-clientset
commands such as `kubectl create deployment`) and CBOR are not decoded: the answer is what
kube-apiserver gives for a body it cannot decode — 415 UnsupportedMediaType naming the types it
accepts (apiserver `negotiation/errors.go`). This is a documented limit of the lab, not of kubectl:
builder commands (`apply`, `create -f`, `replace`, `patch`, `delete` ...) send JSON and work.

Responses: `Accept` is negotiated per entry in order; JSON (any parameters), `*/*` and
`application/*` get JSON; `as=Table` (meta.k8s.io v1 or v1beta1) asks for server-side printing
(`lab.apiserver.tables`); protobuf entries are skipped, so kubectl's
`application/vnd.kubernetes.protobuf,application/json` falls back to JSON. A header naming
nothing the lab can produce gets 406, as the real server answers.
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

from dataclasses import dataclass

from lab.apiserver.status import APIError

BODY_TYPES = ("application/json", "application/yaml")
UNKNOWN_BODY = (
    "the body of the request was in an unknown format - accepted media types include: "
    + ", ".join(BODY_TYPES)
)
NOT_ACCEPTABLE = "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io"


def base(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json` (lower case)."""
    return (content_type or "").split(";")[0].strip().lower()


def body_format(content_type: str | None) -> str:
    """`json` or `yaml` for a POST/PUT (and DELETE options) body; 415 for anything else."""
    kind = base(content_type)
    if kind in ("", "application/json", "*/*"):
        return "json"
    if kind in ("application/yaml", "text/yaml", "application/x-yaml"):
        return "yaml"
    raise APIError(415, "UnsupportedMediaType", UNKNOWN_BODY, {})


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the client asked for: a plain object (JSON) or a Table, and with which row objects."""

    table: bool = False
    table_version: str = "v1"
    partial: bool = False  # as=PartialObjectMetadata(List): metadata only (the metadata client)
    yaml: bool = False


def _params(entry: str) -> tuple[str, dict[str, str]]:
    head, *rest = entry.split(";")
    params = {}
    for p in rest:
        k, _, v = p.partition("=")
        params[k.strip().lower()] = v.strip().strip('"')
    return head.strip().lower(), params


def negotiate(accept: str | None, *, table_ok: bool = True) -> Wanted:
    """The first `Accept` entry the lab can serve (JSON fallback); 406 if none."""
    if not accept or not accept.strip():
        return Wanted()
    for entry in accept.split(","):
        kind, params = _params(entry)
        if kind == "application/yaml" and "as" not in params:
            return Wanted(yaml=True)
        if kind not in ("application/json", "*/*", "application/*"):
            continue
        conversion = params.get("as")
        if conversion is None:
            return Wanted()
        if params.get("g") != "meta.k8s.io" or params.get("v") not in ("v1", "v1beta1"):
            continue
        if conversion == "Table" and table_ok:
            return Wanted(table=True, table_version=params["v"])
        if conversion in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return Wanted(partial=True, table_version=params["v"])
    raise APIError(406, "NotAcceptable", NOT_ACCEPTABLE, {})
