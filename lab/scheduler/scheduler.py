"""The scheduling cycle, step for step as kube-scheduler's `schedule_one.go` runs it.

For each pending pod of one of our profiles:
1. In-tree filters (`predicates`) over the nodes, starting where the last cycle stopped and
   stopping after `num_feasible_nodes_to_find` feasible nodes (all nodes below 100).
2. Extender filters, sequentially in configuration order with ignorable extenders last, each
   seeing the survivors of the previous one; skipped when no node is left or the extender is
   not interested (managedResources). An error fails the attempt unless the extender is
   ignorable. No node left -> a FitError: "0/N nodes are available: ..." with every reason.
3. One feasible node -> chosen without prioritizing. Otherwise LeastAllocated (0..100) plus,
   from every interested extender called concurrently, Score x weight x 10; a failed
   prioritize call contributes nothing. Highest total wins, ties broken at random.
4. The pod is assumed on the node, then bound in the background: by the first interested
   binder extender (an ignorable one that fails passes to the next / the default binder), else
   by POSTing a Binding with the pod's UID as precondition.
Failures post a `FailedScheduling` Warning event, set `PodScheduled=False` (Unschedulable or
SchedulerError) and requeue the pod (`queue`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import random
import socket
import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.informer import Informer
from fip.kube.resources import NODES, PODS, key_of
from lab.scheduler import predicates, preempt
from lab.scheduler.config import SchedulerConfig
from lab.scheduler.events import EventRecorder, now_rfc3339
from lab.scheduler.extender import MAX_EXTENDER_PRIORITY, MAX_NODE_SCORE, ExtenderError, HTTPExtender
from lab.scheduler.queue import SchedulingQueue

log = logging.getLogger("lab.scheduler")
Obj = dict[str, Any]
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE = 5
MAX_MESSAGE = 1024


class FitError(Exception):
    """No node fits; the message is kube-scheduler's FitError text."""


class NoNodesError(Exception):
    """The cluster has no nodes at all (kube-scheduler's ErrNoNodesAvailable, a scheduler error)."""


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many feasible nodes the in-tree filters look for before stopping."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE)
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def final_extender_score(score: int, weight: int) -> int:
    return score * weight * (MAX_NODE_SCORE // MAX_EXTENDER_PRIORITY)


def fit_error_message(num_nodes: int, statuses: Mapping[str, tuple[list[str], bool]]) -> str:
    """FitError.Error() plus DefaultPreemption's PostFilter message (no victims in the lab)."""
    histogram: dict[str, int] = {}
    for reasons, _ in statuses.values():
        for reason in reasons:
            histogram[reason] = histogram.get(reason, 0) + 1
    msg = f"0/{num_nodes} nodes are available:"
    parts = sorted(f"{count} {reason}" for reason, count in histogram.items())
    if parts:
        msg += f" {', '.join(parts)}."
    unresolvable = sum(1 for _, hard in statuses.values() if hard)
    post = []
    if num_nodes - unresolvable:
        post.append(f"{num_nodes - unresolvable} No preemption victims found for incoming pod")
    if unresolvable:
        post.append(f"{unresolvable} Preemption is not helpful for scheduling")
    return msg + f" preemption: 0/{num_nodes} nodes are available: {', '.join(sorted(post))}."


def is_pending(pod: Mapping[str, Any], scheduler_names: frozenset[str]) -> bool:
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    return (
        not spec.get("nodeName")
        and spec.get("schedulerName", "default-scheduler") in scheduler_names
        and not meta.get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        and not spec.get("schedulingGates")
    )


class Scheduler:
    def __init__(
        self,
        client: KubeClient,
        config: SchedulerConfig,
        *,
        seed: int | None = None,
        unschedulable_timeout: float = 300.0,
        identity: str | None = None,
    ) -> None:
        self.client = client
        self.config = config
        exts = [HTTPExtender(e) for e in config.extenders]
        self.extenders = [e for e in exts if not e.ignorable] + [e for e in exts if e.ignorable]
        self.queue = SchedulingQueue(
            config.pod_initial_backoff, config.pod_max_backoff, unschedulable_timeout
        )
        self.pods = Informer(client, PODS)
        self.nodes = Informer(client, NODES)
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)
        self.next_start_node_index = 0
        self.last_statuses: dict[str, tuple[list[str], bool]] = {}  # of the last cycle (preemption)
        self.rng = random.Random(seed)  # noqa: S311 -- tie-breaking, not security
        self.events = EventRecorder(client, identity or f"default-scheduler-{socket.gethostname()}")
        self._assumed: dict[str, tuple[str, Obj]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._binders = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="bind")
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.nodes.start()
        self.pods.start()
        self.nodes.synced.wait(30)
        self.pods.synced.wait(30)
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.queue.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._binders.shutdown(wait=True)
        self.pods.stop()
        self.nodes.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self.queue.pop(timeout=0.2)
            if item is not None:
                self.schedule_one(*item)

    # -- events ---------------------------------------------------------------------------------

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        key = key_of(pod)
        if kind != "DELETED" and is_pending(pod, self.config.scheduler_names):
            self.queue.add(key, pod, relevant=old is None or _pod_view(pod) != _pod_view(old))
            return
        self.queue.delete(key)
        if (pod.get("spec") or {}).get("nodeName"):
            with self._lock:
                self._assumed.pop(key, None)
            if (
                kind == "DELETED"
                or old is None
                or not (old.get("spec") or {}).get("nodeName")
                or _finished(pod) != _finished(old)
            ):
                self.queue.move_all()
        elif kind == "DELETED":
            with self._lock:
                self._assumed.pop(key, None)

    def _on_node(self, kind: str, node: Obj, old: Obj | None) -> None:
        if kind == "DELETED" or old is None or _node_view(node) != _node_view(old):
            self.queue.move_all()

    # -- the cycle ------------------------------------------------------------------------------

    def schedule_one(self, key: str, pod: Obj, cycle: int) -> None:
        current = self.pods.get(key)
        if current is None or not is_pending(current, self.config.scheduler_names):
            self.queue.done(key)
            return
        pod = current
        try:
            host = self.schedule_pod(pod)
        except FitError as e:
            preempt.post_filter(self, pod, self.last_statuses)  # victims' deletion requeues the pod
            self._failed(key, pod, cycle, str(e), "Unschedulable")
            return
        except (ExtenderError, KubeError, NoNodesError) as e:
            self._failed(key, pod, cycle, str(e), "SchedulerError")
            return
        with self._lock:
            self._assumed[key] = (host, pod)
        self._binders.submit(self._bind, key, pod, host, cycle)

    def schedule_pod(self, pod: Obj) -> str:
        nodes = sorted(self.nodes.items(), key=lambda n: n["metadata"]["name"])
        if not nodes:
            raise NoNodesError("no nodes available to schedule pods")
        feasible, statuses = self.find_nodes_that_fit(pod, nodes)
        self.last_statuses = statuses
        if not feasible:
            raise FitError(fit_error_message(len(nodes), statuses))
        if len(feasible) == 1:
            return str(feasible[0]["metadata"]["name"])
        scores = self.prioritize(pod, feasible)
        return self.select_host(scores)

    def find_nodes_that_fit(
        self, pod: Obj, nodes: Sequence[Obj]
    ) -> tuple[list[Obj], dict[str, tuple[list[str], bool]]]:
        statuses: dict[str, tuple[list[str], bool]] = {}
        usage, counts = self._usage()
        pct = self._percentage(pod)
        to_find = num_feasible_nodes_to_find(pct, len(nodes))
        feasible: list[Obj] = []
        processed = 0
        for i in range(len(nodes)):
            node = nodes[(self.next_start_node_index + i) % len(nodes)]
            name = node["metadata"]["name"]
            processed += 1
            rejection = predicates.check(
                pod, node, usage.get(name, {}), counts.get(name, 0), self.config.ignored_resources
            )
            if rejection is None:
                feasible.append(node)
                if len(feasible) >= to_find:
                    break
            else:
                statuses[name] = (list(rejection.reasons), rejection.unresolvable)
        self.next_start_node_index = (self.next_start_node_index + processed) % len(nodes)
        return self.find_nodes_that_pass_extenders(pod, feasible, statuses), statuses

    def find_nodes_that_pass_extenders(
        self, pod: Obj, feasible: list[Obj], statuses: dict[str, tuple[list[str], bool]]
    ) -> list[Obj]:
        """Each interested extender filters the previous one's survivors; reasons go to `statuses`."""
        for ext in self.extenders:
            if not feasible:
                break
            if not ext.interested(pod):
                continue
            try:
                outcome = ext.filter(pod, feasible)
            except ExtenderError as e:
                if ext.ignorable:
                    log.info("skipping %r: %s (ignorable)", ext, e)
                    continue
                raise
            for name, msg in outcome.failed_unresolvable.items():
                reasons = statuses.get(name, ([], True))[0]
                statuses[name] = ([*reasons, msg], True)
            for name, msg in outcome.failed.items():
                if name in outcome.failed_unresolvable:
                    continue
                if name in statuses:
                    statuses[name][0].append(msg)
                else:
                    statuses[name] = ([msg], False)
            feasible = outcome.nodes
        return feasible

    def prioritize(self, pod: Obj, nodes: Sequence[Obj]) -> dict[str, int]:
        usage, _ = self._usage()
        totals = {
            n["metadata"]["name"]: predicates.least_allocated_score(
                pod, n, usage.get(n["metadata"]["name"], {})
            )
            for n in nodes
        }
        interested = [e for e in self.extenders if e.interested(pod)]
        if interested:
            with concurrent.futures.ThreadPoolExecutor(len(interested)) as pool:
                futures = [pool.submit(e.prioritize, pod, nodes) for e in interested]
            for ext, future in zip(interested, futures, strict=True):
                try:
                    scores, weight = future.result()
                except ExtenderError as e:
                    log.info("prioritize with %r failed (ignored): %s", ext, e)
                    continue
                for hp in scores:
                    if hp.host in totals:
                        totals[hp.host] += final_extender_score(hp.score, weight)
        return totals

    def select_host(self, scores: Mapping[str, int]) -> str:
        """Highest score; among equals each is chosen with equal probability (reservoir)."""
        best, best_score, seen = "", None, 0
        for host, score in scores.items():
            if best_score is None or score > best_score:
                best, best_score, seen = host, score, 1
            elif score == best_score:
                seen += 1
                if self.rng.randrange(seen) == 0:
                    best = host
        return best

    # -- binding --------------------------------------------------------------------------------

    def _bind(self, key: str, pod: Obj, host: str, cycle: int) -> None:
        meta = pod["metadata"]
        try:
            for ext in self.extenders:
                if not ext.is_binder or not ext.interested(pod):
                    continue
                try:
                    ext.bind(meta["name"], meta["namespace"], meta.get("uid", ""), host)
                except ExtenderError as e:
                    if ext.ignorable:
                        log.info("skipping %r in bind: %s (ignorable)", ext, e)
                        continue
                    raise
                break
            else:
                binding = {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {
                        "name": meta["name"],
                        "namespace": meta["namespace"],
                        "uid": meta.get("uid"),
                    },
                    "target": {"kind": "Node", "name": host},
                }
                self.client.create(PODS, binding, meta["namespace"], sub="binding")
        except (ExtenderError, KubeError) as e:
            with self._lock:
                self._assumed.pop(key, None)
            self._failed(key, pod, cycle, f"binding rejected: {e}", "SchedulerError")
            return
        self.queue.done(key)
        self.events.record(pod, "Normal", "Scheduled", f"Successfully assigned {key} to {host}", "Binding")

    def _failed(self, key: str, pod: Obj, cycle: int, message: str, reason: str) -> None:
        cached = self.pods.get(key)
        if cached is None or (cached.get("spec") or {}).get("nodeName"):
            self.queue.done(key)
        else:
            self.queue.requeue(key, cycle, unschedulable=reason == "Unschedulable")
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        self.events.record(pod, "Warning", "FailedScheduling", message, "Scheduling")
        self._set_condition(cached or pod, reason, message)

    def _set_condition(self, pod: Obj, reason: str, message: str) -> None:
        meta = pod["metadata"]
        conditions = [
            c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") != "PodScheduled"
        ]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": reason,
                "message": message,
                "lastProbeTime": None,
                "lastTransitionTime": now_rfc3339(),
            }
        )
        try:
            self.client.patch(
                PODS, meta["name"], {"status": {"conditions": conditions}}, meta["namespace"], sub="status"
            )
        except KubeError as e:
            log.info("could not update PodScheduled of %s: %s", key_of(pod), e)

    # -- cache ----------------------------------------------------------------------------------

    def _percentage(self, pod: Obj) -> int:
        name = (pod.get("spec") or {}).get("schedulerName", "default-scheduler")
        for p in self.config.profiles:
            if p.scheduler_name == name and p.percentage_of_nodes_to_score is not None:
                return p.percentage_of_nodes_to_score
        return self.config.percentage_of_nodes_to_score

    def _usage(self) -> tuple[dict[str, dict[str, Decimal]], dict[str, int]]:
        """Requested resources and pod counts per node: bound pods plus assumed ones."""
        usage: dict[str, dict[str, Decimal]] = {}
        counts: dict[str, int] = {}
        with self._lock:
            assumed = dict(self._assumed)
        placed = [
            (p["spec"]["nodeName"], p) for p in self.pods.items() if (p.get("spec") or {}).get("nodeName")
        ]
        placed += [(node, p) for key, (node, p) in assumed.items() if not _bound(self.pods.get(key))]
        for node, p in placed:
            if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            counts[node] = counts.get(node, 0) + 1
            used = usage.setdefault(node, {})
            for name, amount in predicates.pod_requests(p).items():
                used[name] = used.get(name, Decimal(0)) + amount
        return usage, counts


def _finished(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _bound(pod: Obj | None) -> bool:
    return bool(pod and (pod.get("spec") or {}).get("nodeName"))


def _pod_view(pod: Mapping[str, Any]) -> object:
    """A pod without status and bookkeeping: the scheduler's own condition updates do not
    count as an update that could make it schedulable (isPodUpdated)."""
    meta = {
        k: v
        for k, v in (pod.get("metadata") or {}).items()
        if k not in ("resourceVersion", "managedFields", "generation")
    }
    return meta, pod.get("spec")


def _node_view(node: Mapping[str, Any]) -> object:
    """The parts of a Node that change scheduling decisions (heartbeats do not)."""
    return (
        (node.get("metadata") or {}).get("labels"),
        node.get("spec"),
        (node.get("status") or {}).get("allocatable"),
        predicates.node_ready(node),
    )
