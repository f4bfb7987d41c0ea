"""Leader election on a Lease over real HTTP: one leader, release on stop, takeover after expiry,
step-down when renewing fails."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from fip.kube.client import KubeClient
from fip.kube.lease import LeaderElector, LeaseLock
from fip.kube.resources import LEASES
from lab.apiserver import APIServer
from lab.wait import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def api() -> Iterator[APIServer]:
    with APIServer(port=0) as server:
        yield server


def elector(client: KubeClient, who: str, **kw: float) -> LeaderElector:
    timing = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.1, **kw}
    return LeaderElector(LeaseLock(client, "default", "fip-test", who), **timing)


def campaign(el: LeaderElector) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=el.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def test_exactly_one_leader_and_fast_handover_on_release(api: APIServer) -> None:
    client = KubeClient.for_server(api.url)
    electors = [elector(client, f"r{i}") for i in range(3)]
    runs = [campaign(e) for e in electors]
    try:
        wait_for(lambda: any(e.is_leader for e in electors), timeout=5, what="a leader")
        for _ in range(20):  # over two lease durations: never two at once
            assert sum(e.is_leader for e in electors) == 1
            threading.Event().wait(0.1)
        leader = next(i for i, e in enumerate(electors) if e.is_leader)
        lease = client.get(LEASES, "fip-test", "default")
        assert lease["spec"]["holderIdentity"] == f"r{leader}"
        runs[leader][0].set()
        runs[leader][1].join(5)
        others = [e for i, e in enumerate(electors) if i != leader]
        # released, so a successor takes over well within one lease duration
        wait_for(lambda: sum(e.is_leader for e in others) == 1, timeout=0.9, what="a successor")
        assert client.get(LEASES, "fip-test", "default")["spec"]["leaseTransitions"] >= 1
    finally:
        for stop, thread in runs:
            stop.set()
            thread.join(5)


def test_a_leader_that_cannot_renew_steps_down_before_anyone_takes_over(api: APIServer) -> None:
    client = KubeClient.for_server(api.url, timeout=0.3)
    stopped = threading.Event()
    first = elector(client, "a")
    first.on_stopped = stopped.set
    stop, thread = campaign(first)
    try:
        assert first.wait_leader(5)
        api.control.pause()  # the API server hangs: renewals time out
        assert stopped.wait(3)
        assert not first.is_leader
    finally:
        api.control.resume()
        stop.set()
        thread.join(5)


def test_a_crashed_leader_is_replaced_after_the_lease_expires(api: APIServer) -> None:
    client = KubeClient.for_server(api.url)
    crashed = elector(client, "crashed")
    assert crashed._try_acquire_or_renew()  # took the lease, then "died" without releasing
    successor = elector(client, "next")
    stop, thread = campaign(successor)
    try:
        assert not successor.wait_leader(0.5)  # the lease is still fresh
        assert successor.wait_leader(3)
        assert client.get(LEASES, "fip-test", "default")["spec"]["holderIdentity"] == "next"
    finally:
        stop.set()
        thread.join(5)
