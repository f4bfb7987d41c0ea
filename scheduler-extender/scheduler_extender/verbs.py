"""filter, prioritize and preempt: gather the inputs, call `fip.core.placement`, encode.

The decisions are pure (`fip.core.placement`); this module only reads what they need:
the pod's demand (`fip.core.podrequest`), what its owner holds in the store, the cluster view
(`nodeindex.ClusterView`), and for a Deployment at its IP count, which of its recorded pods
are gone (one GET per record, only on that path).

A pod that did not opt in (`fip.io/ip`) passes untouched. A pod whose annotations are wrong gets
every node in `FailedAndUnresolvableNodes` with the annotation named: the person who wrote the
pod reads it in the FailedScheduling event. `Error` is for internal faults only.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fip.core.errors import InvalidInput
from fip.core.nodesubnet import NodeSubnetIndex, node_facts, subnets_of
from fip.core.owner import OwnerKind
from fip.core.placement import (
    FilterOutcome,
    Placement,
    filter_index,
    filter_nodes,
    place,
    score_map,
    score_nodes,
    set_scores,
)
from fip.core.podrequest import PodRequest, parse_request, wants_ip
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from scheduler_extender import metrics, wire
from scheduler_extender.nodeindex import ClusterView

log = logging.getLogger("fip.extender")
Obj = dict[str, Any]
MAX_GONE_CHECKS = 64
POD_CACHE = 4096
DECISION_TTL = 2.0


class PodGetter(Protocol):
    def __call__(self, namespace: str, name: str) -> Obj | None:
        """The pod, or None when it does not exist."""


@dataclass(frozen=True, slots=True)
class Decision:
    request: PodRequest | None
    placement: Placement
    problem: str = ""  # the pod's own annotations are wrong
    held: tuple[AllocationRecord, ...] = ()


class Verbs:
    def __init__(self, view: ClusterView, get_pod: PodGetter, clock: Callable[[], float]) -> None:
        self.view = view
        self.get_pod = get_pod
        self.clock = clock
        self._pods: OrderedDict[str, Obj] = OrderedDict()
        self._decided: OrderedDict[str, tuple[float, Decision]] = OrderedDict()
        self._memo = threading.Lock()  # both caches: gunicorn threads share them

    # --- shared ---------------------------------------------------------------------------------
    def remember(self, pod: Obj) -> None:
        """Keep the pods seen at filter for the bind that follows (same UID) in this process."""
        uid = str(pod["metadata"]["uid"])
        with self._memo:
            self._pods[uid] = pod
            self._pods.move_to_end(uid)
            while len(self._pods) > POD_CACHE:
                self._pods.popitem(last=False)

    def recall(self, uid: str) -> Obj | None:
        with self._memo:
            return self._pods.get(uid)

    def decide(self, pod: Obj) -> Decision:
        """The placement of a pod that wants an IP (store reads included)."""
        try:
            req = parse_request(pod, self.view.deployment_of)
        except InvalidInput as err:
            return Decision(None, Placement(hopeless=str(err)), str(err))
        subnets, usage, pools = self.view.definitions()
        held = self._held(req)
        replicas = (
            self.view.replicas(req.namespace, req.owner.name)
            if req.owner.kind is OwnerKind.DEPLOYMENT
            else None
        )
        gone = self._gone(req, held, replicas)
        holder = None
        if req.requested is not None:
            home = next(
                (
                    s
                    for s in subnets.values()
                    if req.requested.version == s.cidr.version and req.requested in s.cidr
                ),
                None,
            )
            if home is not None:
                holder = self.view.store.get(home.name, req.requested)
        placement = place(
            req, held, subnets, usage, pools, replicas=replicas, gone=gone, requested_holder=holder
        )
        return Decision(req, placement, held=tuple(held))

    def _held(self, req: PodRequest) -> list[AllocationRecord]:
        """The owner's records; a bare pod under the pod policy can hold nothing sticky."""
        if req.owner.kind is OwnerKind.POD and req.policy is ReleasePolicy.POD and req.requested is None:
            return []
        return self.view.store.by_owner(req.owner)

    def _gone(
        self, req: PodRequest, held: Sequence[AllocationRecord], replicas: int | None
    ) -> frozenset[str]:
        """UIDs of the owner's recorded pods that no longer exist, when a Deployment at its count
        needs one of their IPs. Without this a Deployment whose controller has not yet returned a
        replaced pod's IP would wait for it."""
        if req.owner.kind is not OwnerKind.DEPLOYMENT or req.policy is ReleasePolicy.POD:
            return frozenset()
        if replicas is None or len(held) < replicas or any(r.state is IPState.RESERVED for r in held):
            return frozenset()
        out = set()
        for rec in list(held)[:MAX_GONE_CHECKS]:
            if not rec.pod_uid or not rec.pod_name:
                continue
            pod = self.get_pod(req.namespace, rec.pod_name)
            if pod is None or (pod.get("metadata") or {}).get("uid") != rec.pod_uid:
                out.add(rec.pod_uid)
        return frozenset(out)

    def _keep(self, pod: Obj, d: Decision) -> None:
        uid = str(pod["metadata"]["uid"])
        with self._memo:
            self._decided[uid] = (self.clock(), d)
            self._decided.move_to_end(uid)
            while len(self._decided) > POD_CACHE:
                self._decided.popitem(last=False)

    def _recent(self, pod: Obj) -> Decision | None:
        """The filter's decision for this pod if it is at most DECISION_TTL seconds old:
        prioritize follows filter within the same scheduling cycle, and scores need not be
        fresher than that. Bind always decides again."""
        with self._memo:
            got = self._decided.get(str(pod["metadata"]["uid"]))
        if got is None or self.clock() - got[0] > DECISION_TTL:
            return None
        return got[1]

    # --- verbs ----------------------------------------------------------------------------------
    def filter(self, args: wire.ExtenderArgs) -> Obj | bytes:
        names = (
            args.node_names if args.node_names is not None else [wire.node_name(n) for n in args.nodes or []]
        )
        if not wants_ip(args.pod):
            metrics.DECISIONS.labels("filter", "not_fip").inc()
            return wire.filter_result(args, names, {}, {})
        self.remember(args.pod)
        d = self.decide(args.pod)
        self._keep(args.pod, d)
        with self.view.locked():
            idx = self.view.index()
            extra = _uncached(args, idx)
            if extra:
                subnets_of, known = _overlaid(idx, extra)
                out = filter_nodes(d.placement, names, subnets_of, known, idx.populated)
            else:
                out = filter_index(d.placement, names, idx)
        self._account(args.pod, out)
        if args.cached is not None and len(out.passed) == len(names):
            return wire.filter_all_passed(args.cached)  # passed is a subsequence: all of them
        return wire.filter_result(args, out.passed, out.failed, out.unresolvable)

    def _account(self, pod: Obj, out: FilterOutcome) -> None:
        outcome = "passed" if out.passed else ("unresolvable" if out.unresolvable else "none_fit")
        metrics.DECISIONS.labels("filter", outcome).inc()
        reasons: dict[str, int] = {}
        for reason in [*out.failed.values(), *out.unresolvable.values()]:
            cat = metrics.reason_category(reason)
            reasons[cat] = reasons.get(cat, 0) + 1
        for cat, n in reasons.items():
            metrics.REJECTIONS.labels(cat).inc(n)
        meta = pod["metadata"]
        sample = next(iter([*out.unresolvable.values(), *out.failed.values()]), "")
        log.info(
            "filter",
            extra={
                "pod": f"{meta['namespace']}/{meta['name']}",
                "uid": meta["uid"],
                "decision": outcome,
                "passed": len(out.passed),
                "failed": len(out.failed) + len(out.unresolvable),
                "reason": sample,
            },
        )

    def prioritize(self, args: wire.ExtenderArgs) -> list[Obj] | bytes:
        names = (
            args.node_names if args.node_names is not None else [wire.node_name(n) for n in args.nodes or []]
        )
        if not wants_ip(args.pod):
            metrics.DECISIONS.labels("prioritize", "not_fip").inc()
            return wire.priority_list([(n, 0) for n in names])
        d = self._recent(args.pod) or self.decide(args.pod)
        if args.cached is not None:  # names mode, a cached array: one score per distinct subnet set
            with self.view.locked():
                sets, distinct = args.cached.subnet_sets(self.view.index())
            metrics.DECISIONS.labels("prioritize", "scored").inc()
            return wire.priority_bytes(args.cached, sets, set_scores(d.placement, distinct))
        with self.view.locked():
            idx = self.view.index()
            scores = score_map(d.placement, idx)
            extra = _uncached(args, idx)
            if extra:
                scores.update(score_nodes(d.placement, list(extra), extra.__getitem__))
        metrics.DECISIONS.labels("prioritize", "scored").inc()
        return wire.priority_list_for(names, scores)

    def preempt(self, args: wire.PreemptionArgs) -> Obj:
        """Keep only victim nodes where the pod could get its IP; victims themselves unchanged."""
        if not wants_ip(args.pod):
            metrics.DECISIONS.labels("preempt", "not_fip").inc()
            return wire.preemption_result(args.victims)
        d = self.decide(args.pod)
        with self.view.locked():
            out = filter_index(d.placement, list(args.victims), self.view.index())
        keep = {n: args.victims[n] for n in out.passed}
        metrics.DECISIONS.labels("preempt", "kept" if keep else "none_kept").inc()
        meta = args.pod["metadata"]
        log.info(
            "preempt",
            extra={
                "pod": f"{meta['namespace']}/{meta['name']}",
                "kept": sorted(keep),
                "dropped": sorted(set(args.victims) - set(keep)),
            },
        )
        return wire.preemption_result(keep)


def _uncached(args: wire.ExtenderArgs, idx: NodeSubnetIndex) -> dict[str, frozenset[str]]:
    """Full-Nodes mode: the subnets of sent Nodes the node cache does not know (yet), computed
    from the Node objects themselves (labels, InternalIPs)."""
    if args.nodes is None:
        return {}
    out: dict[str, frozenset[str]] = {}
    for node in args.nodes:
        name = wire.node_name(node)
        if not idx.known(name):
            try:
                out[name] = subnets_of(node_facts(node), idx.subnets().values())
            except InvalidInput:
                continue
    return out


def _overlaid(
    idx: NodeSubnetIndex, extra: dict[str, frozenset[str]]
) -> tuple[Callable[[str], frozenset[str]], Callable[[str], bool]]:
    def of(name: str) -> frozenset[str]:
        got = extra.get(name)
        return idx.subnets_of(name) if got is None else got

    def known(name: str) -> bool:
        return name in extra or idx.known(name)

    return of, known
