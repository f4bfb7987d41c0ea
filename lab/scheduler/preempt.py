"""Preemption (DefaultPreemption's PostFilter), with the extenders' `preemptVerb`, as
kube-scheduler runs it after a FitError (pkg/scheduler/framework/preemption).

1. Only a pod with `preemptionPolicy` other than Never, and only nodes whose failure was not
   UnschedulableAndUnresolvable, are considered.
2. On each such node every pod of lower priority is a potential victim; the node is a candidate
   if the in-tree predicates pass with all of them gone. Victims are then reprieved, highest
   priority first, while the pod still fits.
3. Every interested extender with a `preemptVerb` is called in order with the candidates
   (`NodeNameToMetaVictims` with UIDs when nodeCacheCapable, else `NodeNameToVictims` with full
   pods) and answers the candidates it keeps; a node it omits is dropped, a victim UID that is
   not on that node is an error. An error fails preemption unless the extender is ignorable.
4. The best candidate (fewest PDB violations, then lowest highest-victim priority, then lowest
   priority sum, then fewest victims, then name) is nominated: victims are deleted and the pod's
   `status.nominatedNodeName` is set; the pod is retried when the victims are gone.

Lab difference: victims are deleted with grace period 0, since no kubelet may be running to finish
a graceful deletion.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fip.kube.errors import KubeError, NotFound
from fip.kube.resources import PODS
from lab.scheduler import predicates, wire
from lab.scheduler.extender import ExtenderError, HTTPExtender

if TYPE_CHECKING:
    from lab.scheduler.scheduler import Scheduler

log = logging.getLogger("lab.scheduler")
Obj = dict[str, Any]
Statuses = Mapping[str, tuple[list[str], bool]]


def priority(pod: Mapping[str, Any]) -> int:
    value = (pod.get("spec") or {}).get("priority")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _uid(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


def _usage(pods: Sequence[Obj]) -> dict[str, Decimal]:
    used: dict[str, Decimal] = {}
    for p in pods:
        for name, amount in predicates.pod_requests(p).items():
            used[name] = used.get(name, Decimal(0)) + amount
    return used


def candidates(sched: Scheduler, pod: Obj, statuses: Statuses) -> dict[str, list[Obj]]:
    """node -> victims (minimal after reprieve) for every node where preemption could help."""
    prio = priority(pod)
    nodes = {n["metadata"]["name"]: n for n in sched.nodes.items()}
    on: dict[str, list[Obj]] = {}
    for p in sched.pods.items():
        node = (p.get("spec") or {}).get("nodeName")
        if node and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            on.setdefault(node, []).append(p)
    ignored = sched.config.ignored_resources
    out: dict[str, list[Obj]] = {}
    for name, (_, unresolvable) in sorted(statuses.items()):
        node = nodes.get(name)
        if unresolvable or node is None:
            continue
        lower = [p for p in on.get(name, []) if priority(p) < prio]
        kept = [p for p in on.get(name, []) if priority(p) >= prio]
        if not lower or predicates.check(pod, node, _usage(kept), len(kept), ignored) is not None:
            continue
        victims = []
        for v in sorted(lower, key=priority, reverse=True):
            if predicates.check(pod, node, _usage([*kept, v]), len(kept) + 1, ignored) is None:
                kept.append(v)
            else:
                victims.append(v)
        if victims:
            out[name] = victims
    return out


def _field(obj: Mapping[str, Any], name: str) -> Any:
    for key, value in obj.items():
        if key.casefold() == name.casefold():
            return value
    return None


def call_extender(ext: HTTPExtender, pod: Obj, cands: Mapping[str, list[Obj]]) -> dict[str, list[Obj]]:
    """ProcessPreemption against one extender: the candidates (and victims) it keeps."""
    meta = ext.cfg.node_cache_capable
    victims: Obj = {
        node: {"Pods": [{"UID": _uid(v)} if meta else wire.typed(v) for v in vs], "NumPDBViolations": 0}
        for node, vs in cands.items()
    }
    body = {
        "Pod": wire.typed(pod),
        "NodeNameToVictims": None if meta else victims,
        "NodeNameToMetaVictims": victims if meta else None,
    }

    def decode(raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError as e:
            raise wire.WireError(f"not JSON: {e}") from e

    reply = ext._call(ext.cfg.preempt_verb, wire.go_json(body), decode)  # same package: the one HTTP path
    if not isinstance(reply, dict):
        raise ExtenderError(f"preempt reply from {ext.url} is not an object")
    kept = _field(reply, "NodeNameToMetaVictims") or {}
    out: dict[str, list[Obj]] = {}
    for node, entry in kept.items():
        if node not in cands:
            raise ExtenderError(f"extender {ext.url} returned node {node!r} that was not a candidate")
        by_uid = {_uid(v): v for v in cands[node]}
        chosen = []
        for item in _field(entry or {}, "Pods") or []:
            uid = _field(item, "UID")
            if uid not in by_uid:
                raise ExtenderError(f"extender {ext.url}: victim {uid!r} is not on node {node!r}")
            chosen.append(by_uid[uid])
        out[node] = chosen
    return out


def _rank(item: tuple[str, list[Obj]]) -> tuple[int, int, int, int, str]:
    node, victims = item
    prios = [priority(v) for v in victims] or [0]
    return (0, max(prios), sum(prios), len(victims), node)


def post_filter(sched: Scheduler, pod: Obj, statuses: Statuses) -> str | None:
    """Nominate a node by preempting lower-priority pods, or None. Extender calls happen here."""
    if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return None
    cands = candidates(sched, pod, statuses)
    for ext in sched.extenders:
        if not cands:
            break
        if not ext.cfg.preempt_verb or not ext.interested(pod):
            continue
        try:
            cands = call_extender(ext, pod, cands)
        except ExtenderError as e:
            if ext.ignorable:
                log.info("skipping %r in preempt: %s (ignorable)", ext, e)
                continue
            log.info("preemption of %s failed: %s", pod["metadata"]["name"], e)
            return None
    if not cands:
        return None
    node, victims = min(cands.items(), key=_rank)
    meta = pod["metadata"]
    for v in victims:
        vm = v["metadata"]
        try:
            sched.client.delete(PODS, vm["name"], vm["namespace"], uid=vm.get("uid"), grace_period=0)
        except NotFound:
            pass
        except KubeError as e:
            log.info("could not preempt %s/%s: %s", vm["namespace"], vm["name"], e)
            return None
        sched.events.record(
            v, "Normal", "Preempted", f"Preempted by pod {meta.get('uid')} on node {node}", "Preempting"
        )
    try:
        sched.client.patch(
            PODS, meta["name"], {"status": {"nominatedNodeName": node}}, meta["namespace"], sub="status"
        )
    except KubeError as e:
        log.info("could not nominate %s for %s: %s", node, meta["name"], e)
    return node
