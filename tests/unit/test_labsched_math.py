"""Score arithmetic, node sampling, the FitError text, backoff and the built-in predicates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fip.kube.client import KubeClient
from lab.scheduler import predicates
from lab.scheduler.config import parse
from lab.scheduler.queue import SchedulingQueue
from lab.scheduler.scheduler import (
    Scheduler,
    final_extender_score,
    fit_error_message,
    num_feasible_nodes_to_find,
)

NOWHERE = KubeClient.for_server("http://127.0.0.1:9")  # never called: the maths is local
CONFIG = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}


def node(name: str, ready: bool = True, **extra: Any) -> dict[str, Any]:
    n: dict[str, Any] = {
        "metadata": {"name": name, "labels": extra.pop("labels", {})},
        "spec": extra.pop("spec", {}),
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "allocatable": extra.pop("allocatable", {"cpu": "2", "memory": "4Gi", "pods": "110"}),
        },
    }
    return n


def pod(requests: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    container = {"name": "c", "image": "x", "resources": {"requests": requests or {}}}
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u"},
        "spec": {"containers": [container], **spec},
    }


@pytest.mark.parametrize(("score", "weight", "total"), [(0, 1, 0), (7, 1, 70), (10, 3, 300), (5, 2, 100)])
def test_extender_score_is_score_times_weight_times_ten(score: int, weight: int, total: int) -> None:
    assert final_extender_score(score, weight) == total


@pytest.mark.parametrize(
    ("pct", "nodes", "expected"),
    [
        (0, 50, 50),
        (0, 99, 99),
        (0, 100, 100),  # adaptive 50% of 100 = 50, raised to the 100 floor
        (0, 1000, 420),  # 50 - 1000/125 = 42%
        (0, 5000, 500),  # 50 - 40 = 10%
        (0, 10000, 500),  # 50 - 80 < 5 -> 5%
        (10, 500, 100),
        (30, 1000, 300),
        (100, 1000, 1000),
    ],
)
def test_number_of_feasible_nodes_to_find(pct: int, nodes: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(pct, nodes) == expected


def test_sampling_stops_after_enough_feasible_nodes_and_rotates_the_start() -> None:
    sched = Scheduler(NOWHERE, parse({**CONFIG, "percentageOfNodesToScore": 30}))
    nodes = [node(f"n{i:04d}") for i in range(1000)]
    first, statuses = sched.find_nodes_that_fit(pod(), nodes)
    assert len(first) == 300 and not statuses
    assert sched.next_start_node_index == 300
    second, _ = sched.find_nodes_that_fit(pod(), nodes)
    assert second[0]["metadata"]["name"] == "n0300" and len(second) == 300
    nodes[650] = node("n0650", ready=False)
    third, statuses = sched.find_nodes_that_fit(pod(), nodes)
    assert len(third) == 300 and list(statuses) == ["n0650"]
    assert sched.next_start_node_index == (600 + 301) % 1000


def test_fewer_than_100_nodes_are_all_checked() -> None:
    sched = Scheduler(NOWHERE, parse({**CONFIG, "percentageOfNodesToScore": 5}))
    feasible, _ = sched.find_nodes_that_fit(pod(), [node(f"n{i}") for i in range(99)])
    assert len(feasible) == 99


def test_ties_are_broken_at_random_among_the_best() -> None:
    sched = Scheduler(NOWHERE, parse(CONFIG), seed=1)
    picks = {sched.select_host({"a": 50, "b": 90, "c": 90, "d": 10}) for _ in range(200)}
    assert picks == {"b", "c"}


def test_fit_error_message_matches_kube_scheduler() -> None:
    statuses = {
        "n1": (["node(s) didn't match Pod's node affinity/selector"], True),
        "n2": (["no free IP in subnet dc1-a"], False),
        "n3": (["no free IP in subnet dc1-a"], False),
    }
    assert fit_error_message(3, statuses) == (
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "2 no free IP in subnet dc1-a. preemption: 0/3 nodes are available: "
        "1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    )


def test_backoff_doubles_from_initial_to_max() -> None:
    now = [0.0]
    q = SchedulingQueue(1.0, 10.0, clock=lambda: now[0])
    waits = []
    q.add("default/p", {"metadata": {}})
    for _ in range(6):
        item = q.pop(timeout=0)
        assert item is not None
        key, _, cycle = item
        waits.append(q.backoff_for(key))
        q.requeue(key, cycle, unschedulable=False)
        assert q.pop(timeout=0) is None  # still backing off
        now[0] += waits[-1]
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_unschedulable_pods_wait_for_an_event() -> None:
    now = [0.0]
    q = SchedulingQueue(1.0, 10.0, unschedulable_timeout=300.0, clock=lambda: now[0])
    q.add("default/p", {"metadata": {}})
    item = q.pop(timeout=0)
    assert item is not None
    q.requeue(item[0], item[2], unschedulable=True)
    now[0] += 60
    assert q.pop(timeout=0) is None and q.pending() == {"default/p": "unschedulable"}
    q.move_all()  # its 1 s backoff (from the attempt) is long over: straight back to active
    item = q.pop(timeout=0)
    assert item is not None
    q.requeue(item[0], item[2], unschedulable=True)
    now[0] += 0.5
    q.move_all()  # second attempt: 2 s backoff from that attempt, 1.5 s still to wait
    assert q.pop(timeout=0) is None and q.pending() == {"default/p": "backoff"}
    now[0] += 1.5
    assert q.pop(timeout=0) is not None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Decimal("0.1")),
        ("1Gi", Decimal(2**30)),
        ("2", Decimal(2)),
        ("1e3", Decimal(1000)),
        ("1.5k", 1500),
    ],
)
def test_quantities(text: str, value: Decimal) -> None:
    assert predicates.quantity(text) == value


def test_predicates_reasons() -> None:
    used: dict[str, Decimal] = {}
    assert predicates.check(pod({"cpu": "1"}), node("n"), used, 0) is None
    rej = predicates.check(pod({"cpu": "3", "memory": "5Gi"}), node("n"), used, 0)
    assert (
        rej is not None
        and rej.reasons == ("Insufficient cpu", "Insufficient memory")
        and not rej.unresolvable
    )
    rej = predicates.check(pod(nodeSelector={"zone": "a"}), node("n", labels={"zone": "b"}), used, 0)
    assert rej is not None and rej.reasons == ("node(s) didn't match Pod's node affinity/selector",)
    rej = predicates.check(pod(), node("n", ready=False), used, 0)
    assert rej is not None and rej.reasons == (
        "node(s) had untolerated taint {node.kubernetes.io/not-ready: }",
    )
    rej = predicates.check(pod(), node("n", spec={"unschedulable": True}), used, 0)
    assert rej is not None and rej.reasons == ("node(s) were unschedulable",) and rej.unresolvable
    assert predicates.check(pod(), node("n"), used, 110) == predicates.Rejection(("Too many pods",), False)


def test_extended_resources_are_checked_unless_ignored_by_scheduler() -> None:
    rej = predicates.check(pod({"fip.io/ip": "1"}), node("n"), {}, 0)
    assert rej is not None and rej.reasons == ("Insufficient fip.io/ip",)
    assert predicates.check(pod({"fip.io/ip": "1"}), node("n"), {}, 0, frozenset({"fip.io/ip"})) is None


def test_init_containers_count_as_their_maximum() -> None:
    p = pod({"cpu": "500m"})
    p["spec"]["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": "1500m"}}}]
    assert predicates.pod_requests(p)["cpu"] == Decimal("1.5")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.+-eEkKMGTPmunai ", max_size=12))
def test_quantity_never_raises(text: str) -> None:
    assert predicates.quantity(text) >= 0 or text.strip().startswith("-")
