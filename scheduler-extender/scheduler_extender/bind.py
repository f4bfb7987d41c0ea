"""bind: allocate in the chosen node's subnet, then POST the Binding; undo on failure.

Order and why:
1. Reclaim IPs whose pods are provably gone (`Choice.reclaim`: back to `reserved` for the owner).
2. `store.allocate` — atomic in Redis and idempotent per pod UID: a retried bind gets the same IP.
3. `bind_pod` with the allocation as the pod annotation `fip.io/allocation` (the format fipd
   reads) and the pod UID as precondition: a recreated pod of the same name is never bound.
If step 3 fails the allocation is undone: an IP that was the owner's reserved IP goes back to
`reserved` (a StatefulSet must not lose its address to a failed Binding), a new one is released.
A Binding refused because the pod is already bound to this node with this allocation (the reply
of an earlier attempt was lost) is success, not a failure.

The undo is `fip.core.undo.UndoStack`, the bridge's plugs' shape (steps with a fault hook for
tests, actions newest first, failures of undo actions attached to the original error as notes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from fip.core import annotation
from fip.core.annotation import Allocation
from fip.core.errors import FipError
from fip.core.owner import OwnerKind
from fip.core.placement import Choice, bind_choice
from fip.core.podrequest import PodRequest, wants_ip
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.core.undo import FaultHook, UndoStack
from fip.kube.errors import Conflict
from fip.store.errors import NoFreeIP, StoreError
from fip.store.protocol import AllocateRequest
from scheduler_extender import metrics, wire
from scheduler_extender.errors import OverCount
from scheduler_extender.verbs import Verbs

log = logging.getLogger("fip.extender")
Obj = dict[str, Any]


class Kube(Protocol):
    def bind_pod(
        self, namespace: str, name: str, uid: str, node: str, annotations: dict[str, str]
    ) -> None: ...


class Binder:
    def __init__(self, verbs: Verbs, kube: Kube, fault: FaultHook | None = None) -> None:
        self.verbs = verbs
        self.view = verbs.view
        self.kube = kube
        self.fault = fault

    def bind(self, args: wire.BindingArgs) -> str:
        """ "" on success, else the error the scheduler logs (it then retries the pod)."""
        who = f"{args.pod_namespace}/{args.pod_name}"
        pod = self.verbs.recall(args.pod_uid) or self.verbs.get_pod(args.pod_namespace, args.pod_name)
        if pod is None:
            return self._fail("pod_gone", who, f"pod {who} does not exist (deleted before its bind)")
        meta = pod.get("metadata") or {}
        if meta.get("uid") != args.pod_uid or meta.get("name") != args.pod_name:
            return self._fail(
                "pod_replaced",
                who,
                f"pod {who} now has UID {meta.get('uid')}, not {args.pod_uid}: it was recreated",
            )
        try:
            if not wants_ip(pod):
                self.kube.bind_pod(args.pod_namespace, args.pod_name, args.pod_uid, args.node, {})
                metrics.DECISIONS.labels("bind", "bound_without_ip").inc()
                return ""
            return self._bind_with_ip(args, pod, who)
        except StoreError as err:
            if isinstance(err, NoFreeIP):
                for name in self.view.definitions()[0]:
                    self.view.refresh_usage(name)
            return self._fail(type(err).__name__, who, f"pod {who} on node {args.node}: {err}")
        except FipError as err:
            return self._fail(type(err).__name__, who, f"pod {who} on node {args.node}: {err}")

    def _bind_with_ip(self, args: wire.BindingArgs, pod: Obj, who: str) -> str:
        d = self.verbs.decide(pod)
        if d.request is None:
            return self._fail("annotation", who, f"pod {who}: {d.problem}")
        req = d.request
        with self.view.locked():
            subnets_of, _, _ = self.view.node_subnets()
            node_subnets = subnets_of(args.node)
        choice = bind_choice(d.placement, node_subnets)
        if not isinstance(choice, Choice):
            return self._fail("placement", who, f"pod {who} cannot get an IP on node {args.node}: {choice}")
        subnet = self.view.definitions()[0][choice.subnet]
        store = self.view.store
        now = self.verbs.clock()
        kept = {r.ip for r in choice.reclaim} | {
            r.ip for r in d.held if r.subnet == choice.subnet and r.state is IPState.RESERVED
        }
        with UndoStack(self.fault) as undo:
            for old in choice.reclaim:
                undo.step("reclaim")
                store.reserve(old.subnet, old.ip, old.owner, old.pod_uid, now)
            undo.step("allocate")
            rec = store.allocate(
                AllocateRequest(
                    subnet=choice.subnet,
                    owner=req.owner,
                    pod_uid=req.uid,
                    pod_name=req.name,
                    node=args.node,
                    policy=req.policy,
                    now=now,
                    requested=choice.requested,
                    pool=d.placement.pool,
                )
            )
            undo.push("give the IP back", self._giver(rec, rec.ip in kept, now))
            if rec.ip not in kept:
                self._check_count(req, rec)
            value = Allocation(
                rec.ip, subnet.cidr.prefixlen, subnet.gateway, subnet.vlan, subnet.name, req.owner
            ).encode()
            undo.step("binding")
            try:
                self.kube.bind_pod(
                    args.pod_namespace, args.pod_name, args.pod_uid, args.node, {annotation.KEY: value}
                )
            except Conflict:
                if not self._already(args, value):
                    raise
        if rec.ip not in kept:
            self.view.note_allocated(rec.subnet)
        metrics.DECISIONS.labels("bind", "bound").inc()
        log.info(
            "bind",
            extra={
                "pod": who,
                "uid": args.pod_uid,
                "node": args.node,
                "decision": "bound",
                "ip": str(rec.ip),
                "subnet": rec.subnet,
                "owner": str(req.owner),
            },
        )
        return ""

    def _check_count(self, req: PodRequest, rec: AllocationRecord) -> None:
        """A Deployment under immutable/never owns at most `replicas` IPs. The filter checked the
        count, but two replicas binding two of its pods at once could both add one; after the
        (atomic) allocation every binder sees the same records, and the IPs beyond the oldest
        `replicas` (by first allocation, then address) are given back: exactly the surplus."""
        if req.owner.kind is not OwnerKind.DEPLOYMENT or req.policy is ReleasePolicy.POD:
            return
        replicas = self.view.replicas(req.namespace, req.owner.name)
        if replicas is None:
            return
        records = self.view.store.by_owner(req.owner)
        if len(records) <= replicas:
            return
        keep = sorted(records, key=lambda r: (r.created_at, int(r.ip)))[:replicas]
        if rec.ip not in {r.ip for r in keep}:
            raise OverCount(
                f"Deployment {req.owner.namespace}/{req.owner.name} holds {len(records)} IP(s) for "
                f"{replicas} replica(s) and none is free: waiting for one to be released"
            )

    def _giver(self, rec: AllocationRecord, reserved: bool, now: float) -> Callable[[], object]:
        store = self.view.store
        if reserved:
            return lambda: store.reserve(rec.subnet, rec.ip, rec.owner, rec.pod_uid, now)
        return lambda: store.release(rec.subnet, rec.ip, rec.owner, rec.pod_uid, now)

    def _already(self, args: wire.BindingArgs, value: str) -> bool:
        """The pod is bound to this node with this allocation: an earlier attempt succeeded."""
        pod = self.verbs.get_pod(args.pod_namespace, args.pod_name)
        if pod is None:
            return False
        meta = pod.get("metadata") or {}
        return (
            meta.get("uid") == args.pod_uid
            and (pod.get("spec") or {}).get("nodeName") == args.node
            and (meta.get("annotations") or {}).get(annotation.KEY) == value
        )

    def _fail(self, reason: str, who: str, message: str) -> str:
        metrics.ALLOCATION_FAILURES.labels(reason).inc()
        metrics.DECISIONS.labels("bind", "failed").inc()
        log.warning("bind", extra={"pod": who, "decision": "failed", "reason": message})
        return message
