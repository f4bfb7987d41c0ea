"""kube-scheduler's extender v1 types (k8s.io/kube-scheduler/extender/v1), field for field.

The Go structs carry no JSON tags, so kube-scheduler sends and expects the Go field names
(`Pod`, `NodeNames`, `FailedNodes`, ...) and `null` for nil slices and maps. Go's decoder matches
keys case-insensitively (an exact match preferred) and schedulers up to 1.15 sent lowercase
keys, so requests are read the same way here; replies always use the Go names, one spelling
per key. Embedded Pods and Nodes are ordinary API JSON (camelCase) and are passed on as dicts.

Every request is checked for shape before any use; a wrong shape is `BadRequest` whose message
names the field as the scheduler spells it (`ExtenderArgs.NodeNames[3]: 7 is not a string`).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scheduler_extender.errors import BadRequest
from scheduler_extender.namescache import Names

Obj = dict[str, Any]
MAX_NAME = 253


def field(obj: Mapping[str, Any], name: str) -> Any:
    """`obj[name]` as Go's encoding/json finds it: the exact key, else any case-insensitive one."""
    if name in obj:
        return obj[name]
    folded = name.casefold()
    for key, value in obj.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None


def _object(where: str, value: Any) -> Obj:
    if not isinstance(value, dict):
        raise BadRequest(f"{where}: {_kind(value)} is not a JSON object")
    return value


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{where}: {_kind(value)} is not a string")
    if not value or len(value) > MAX_NAME:
        raise BadRequest(
            f"{where}: {value[:40]!r} is not a Kubernetes object name (1..{MAX_NAME} characters)"
        )
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check_pod(where: str, value: Any) -> Obj:
    """A Pod with metadata.name, metadata.namespace and metadata.uid strings."""
    if value is None:
        raise BadRequest(f"{where}: missing (null); send the Pod being scheduled")
    pod = _object(where, value)
    meta = _object(f"{where}.metadata", pod.get("metadata"))
    for key in ("name", "namespace", "uid"):
        _name(f"{where}.metadata.{key}", meta.get(key))
    for key in ("labels", "annotations"):
        inner = meta.get(key)
        if inner is not None and (
            not isinstance(inner, dict) or not all(isinstance(v, str) for v in inner.values())
        ):
            raise BadRequest(f"{where}.metadata.{key}: must be an object of strings")
    if meta.get("ownerReferences") is not None and not isinstance(meta.get("ownerReferences"), list):
        raise BadRequest(
            f"{where}.metadata.ownerReferences: {_kind(meta.get('ownerReferences'))} is not an array"
        )
    return pod


@dataclass(frozen=True, slots=True)
class ExtenderArgs:
    """Filter and prioritize request. Exactly one of `node_names` (nodeCacheCapable) and
    `nodes` (the full NodeList's items) is not None."""

    pod: Obj
    node_names: list[str] | None
    nodes: list[Obj] | None
    node_list: Obj | None
    cached: Names | None = None  # the names came from the decoded-arrays cache (read only)


def decode_args(body: Any, cached: Names | None = None) -> ExtenderArgs:
    """`cached`: the body's NodeNames, already split off, decoded and validated (`namescache`)."""
    args = _object("ExtenderArgs", body)
    pod = check_pod("ExtenderArgs.Pod", field(args, "Pod"))
    if cached is not None:
        return ExtenderArgs(pod, cached.names, None, None, cached)
    raw_names = field(args, "NodeNames")
    raw_nodes = field(args, "Nodes")
    names: list[str] | None = None
    items: list[Obj] | None = None
    node_list: Obj | None = None
    if raw_names is not None:
        if not isinstance(raw_names, list):
            raise BadRequest(f"ExtenderArgs.NodeNames: {_kind(raw_names)} is not an array of node names")
        names = _names(raw_names)
    elif raw_nodes is not None:
        node_list = _object("ExtenderArgs.Nodes", raw_nodes)
        raw_items = node_list.get("items")
        if raw_items is None:
            raw_items = []
        if not isinstance(raw_items, list):
            raise BadRequest(f"ExtenderArgs.Nodes.items: {_kind(raw_items)} is not an array of Nodes")
        items = []
        for i, node in enumerate(raw_items):
            obj = _object(f"ExtenderArgs.Nodes.items[{i}]", node)
            meta = _object(f"ExtenderArgs.Nodes.items[{i}].metadata", obj.get("metadata"))
            _name(f"ExtenderArgs.Nodes.items[{i}].metadata.name", meta.get("name"))
            items.append(obj)
    else:
        raise BadRequest("ExtenderArgs: both NodeNames and Nodes are null; send the candidate nodes")
    return ExtenderArgs(pod, names, items, node_list)


def node_names(raw: list[Any]) -> list[str]:
    """A decoded NodeNames array checked item by item (BadRequest names the first bad one)."""
    return _names(raw)


def _names(raw: list[Any]) -> list[str]:
    """Node names; the common all-valid case is checked with C-level passes over the list
    (5,000 names per filter call), the precise per-item message only on failure."""
    try:
        "".join(raw)  # TypeError unless every item is a str (exactly str: JSON makes no subclasses)
    except TypeError:
        pass
    else:
        if "" not in raw and (not raw or max(map(len, raw)) <= MAX_NAME):
            return raw
    return [_name(f"ExtenderArgs.NodeNames[{i}]", n) for i, n in enumerate(raw)]


def node_name(node: Obj) -> str:
    return str(node["metadata"]["name"])


def filter_result(
    args: ExtenderArgs,
    passed: Sequence[str],
    failed: Mapping[str, str],
    unresolvable: Mapping[str, str],
    error: str = "",
) -> Obj:
    """ExtenderFilterResult in the request's mode: names echoed (never null) or full Nodes."""
    out: Obj = {"Nodes": None, "NodeNames": None}
    if args.node_names is not None:
        out["NodeNames"] = list(passed)
    else:
        keep = set(passed)
        items = [n for n in args.nodes or [] if node_name(n) in keep]
        meta = (args.node_list or {}).get("metadata")
        out["Nodes"] = {"metadata": meta if isinstance(meta, dict) else {}, "items": items}
    out["FailedNodes"] = dict(failed)
    out["FailedAndUnresolvableNodes"] = dict(unresolvable)
    out["Error"] = error
    return out


def error_filter_result(message: str) -> Obj:
    return {
        "Nodes": None,
        "NodeNames": None,
        "FailedNodes": None,
        "FailedAndUnresolvableNodes": None,
        "Error": message,
    }


def filter_all_passed(cached: Names) -> bytes:
    """ExtenderFilterResult passing every name of a cached array: the array's own bytes echoed."""
    return (
        b'{"Nodes":null,"NodeNames":'
        + cached.raw
        + b',"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""}'
    )


def priority_bytes(
    cached: Names, sets: Sequence[frozenset[str] | None], by_set: Mapping[frozenset[str] | None, int]
) -> bytes:
    """HostPriorityList for a cached array whose names sit in `sets` (aligned), each set scored
    by `by_set`: joined in C from the array's JSON prefixes, no dict per node, the same bytes
    orjson writes for the dicts."""
    tails = {of: f"{int(v)}}}" for of, v in by_set.items()}
    entries = map(operator.add, cached.prefixes(), map(tails.__getitem__, sets))
    return ("[" + ",".join(entries) + "]").encode()


def priority_list(scores: Sequence[tuple[str, int]]) -> list[Obj]:
    """HostPriorityList: integer scores (Go decodes Score as int64; 7.0 would fail)."""
    return [{"Host": host, "Score": int(score)} for host, score in scores]


def priority_list_for(names: Sequence[str], scores: Mapping[str, int]) -> list[Obj]:
    """HostPriorityList for `names` in order, 0 for names without a score (scores are ints)."""
    get = scores.get
    return [{"Host": n, "Score": get(n, 0)} for n in names]


@dataclass(frozen=True, slots=True)
class BindingArgs:
    pod_name: str
    pod_namespace: str
    pod_uid: str
    node: str


def decode_binding(body: Any) -> BindingArgs:
    args = _object("ExtenderBindingArgs", body)
    return BindingArgs(
        _name("ExtenderBindingArgs.PodName", field(args, "PodName")),
        _name("ExtenderBindingArgs.PodNamespace", field(args, "PodNamespace")),
        _name("ExtenderBindingArgs.PodUID", field(args, "PodUID")),
        _name("ExtenderBindingArgs.Node", field(args, "Node")),
    )


def binding_result(error: str = "") -> Obj:
    return {"Error": error}


@dataclass(frozen=True, slots=True)
class PreemptionArgs:
    """`victims`: node -> (pod UIDs, NumPDBViolations), from NodeNameToMetaVictims, else from
    the full NodeNameToVictims (nodeCacheCapable false)."""

    pod: Obj
    victims: dict[str, tuple[list[str], int]]


def decode_preemption(body: Any) -> PreemptionArgs:
    args = _object("ExtenderPreemptionArgs", body)
    pod = check_pod("ExtenderPreemptionArgs.Pod", field(args, "Pod"))
    meta = field(args, "NodeNameToMetaVictims")
    full = field(args, "NodeNameToVictims")
    where = (
        "ExtenderPreemptionArgs.NodeNameToMetaVictims"
        if meta is not None
        else "ExtenderPreemptionArgs.NodeNameToVictims"
    )
    raw = meta if meta is not None else full
    victims: dict[str, tuple[list[str], int]] = {}
    if raw is None:
        return PreemptionArgs(pod, victims)
    for node, entry in _object(where, raw).items():
        here = f"{where}[{node!r}]"
        _name(here, node)
        if entry is None:
            victims[node] = ([], 0)
            continue
        obj = _object(here, entry)
        pods = field(obj, "Pods")
        if pods is not None and not isinstance(pods, list):
            raise BadRequest(f"{here}.Pods: {_kind(pods)} is not an array")
        uids = []
        for i, p in enumerate(pods or []):
            item = _object(f"{here}.Pods[{i}]", p)
            uid = field(item, "UID") if meta is not None else (item.get("metadata") or {}).get("uid")
            uids.append(_name(f"{here}.Pods[{i}].UID", uid))
        pdb = field(obj, "NumPDBViolations")
        if pdb is None:
            pdb = 0
        if isinstance(pdb, bool) or not isinstance(pdb, int):
            raise BadRequest(f"{here}.NumPDBViolations: {_kind(pdb)} is not an integer")
        victims[node] = (uids, pdb)
    return PreemptionArgs(pod, victims)


def preemption_result(victims: Mapping[str, tuple[list[str], int]]) -> Obj:
    return {
        "NodeNameToMetaVictims": {
            node: {"Pods": [{"UID": uid} for uid in uids], "NumPDBViolations": pdb}
            for node, (uids, pdb) in victims.items()
        }
    }
