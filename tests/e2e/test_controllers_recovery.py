"""fip-controllers under faults, with a real Redis: killed mid scale-down (the real process), events
missed while down, a forced 410 re-list, two replicas, Redis FLUSHALL and a Sentinel failover.
After each, the store converges and `fipctl check` is clean; no IP is ever held by two pods."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from ctl_kit import SUBNET, ControllerProcess, by_ip, check_clean, settle
from fabric import NS, Lab, controllers, deployment, live_pod_ips, statefulset

from fip.core.record import IPState
from fip.kube.resources import DEPLOYMENTS, PODS, STATEFULSETS
from fip.store.factory import open_store
from fip.store.protocol import Store
from lab.redisproc import RedisSentinel, RedisServer, command
from lab.wait import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as srv:
        yield srv


@pytest.fixture
def store(redis: RedisServer) -> Iterator[Store]:
    redis.command("FLUSHALL")
    s = open_store(redis.url)
    s.initialise()
    yield s
    s.close()


class DuplicateWatch:
    """Samples the live pods every 50 ms and remembers any IP two of them carried at once."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.duplicates: list[tuple[str, list[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                ips = live_pod_ips(self.lab.client)
            except Exception:
                continue
            for ip, n in Counter(ips.values()).items():
                if n > 1:
                    self.duplicates.append((ip, sorted(k for k, v in ips.items() if v == ip)))

    def stop(self) -> list[tuple[str, list[str]]]:
        self._stop.set()
        self._thread.join(5)
        return self.duplicates


def settle_distinct(lab: Lab, n: int) -> dict[str, str]:
    """`n` live pods with `n` distinct IPs, and `fipctl check` clean."""
    final = settle(lab, lambda i: len(i) == n, n)
    assert len(set(final.values())) == n
    check_clean(lab)
    return final


def scale(lab: Lab, name: str, replicas: int) -> None:
    lab.client.patch(STATEFULSETS, name, {"spec": {"replicas": replicas}}, NS)


def names(prefix: str, n: int) -> set[str]:
    return {f"{prefix}-{i}" for i in range(n)}


def test_killed_mid_scale_down_then_restarted_converges(
    tmp_path: Path, store: Store, redis: RedisServer
) -> None:
    with Lab(tmp_path, store, SUBNET, subnet_resource=True) as lab:
        first = ControllerProcess(lab, redis.url, tmp_path / "c1.log", ident="first")
        try:
            wait_for(first.ready, 30, "first controller ready")
            lab.client.create(STATEFULSETS, statefulset("web", 12, "immutable"), NS)
            ips = settle(lab, names("web", 12), 12, timeout=60)
            scale(lab, "web", 2)
            # kill -9 while the releases are under way
            wait_for(lambda: len(by_ip(store)) < 12 or None, 20, "scale-down started")
            first.kill()
        finally:
            first.stop()
        left = len(by_ip(store))
        second = ControllerProcess(lab, redis.url, tmp_path / "c2.log", ident="second")
        try:
            wait_for(second.ready, 30, "second controller ready")
            after = settle(lab, names("web", 2), 2, timeout=30)
            assert after == {k: ips[k] for k in ("web-0", "web-1")}
            check_clean(lab)
        finally:
            assert second.stop() == 0
        assert left >= 2
        print(f"records when killed: {left} (of 12 -> 2)")


def test_events_missed_while_down_are_repaired_within_one_period(tmp_path: Path, store: Store) -> None:
    period = 3.0
    with Lab(tmp_path, store, SUBNET, subnet_resource=True) as lab:
        ctl = controllers(lab, period=period)
        wait_for(lambda: SUBNET.name in {s.name for s in store.subnets()}, 20, "subnet synced")
        lab.client.create(STATEFULSETS, statefulset("web", 4), NS)  # policy pod
        lab.client.create(DEPLOYMENTS, deployment("api", 2, "immutable"), NS)
        settle(lab, lambda ips: len(ips) == 6, 6)
        ctl.stop()
        # while no controller runs: scale both down (pods go; nobody frees their IPs)
        scale(lab, "web", 1)
        lab.client.patch(DEPLOYMENTS, "api", {"spec": {"replicas": 0}}, NS)
        wait_for(lambda: len(live_pod_ips(lab.client)) == 1 or None, 20, "pods gone")
        assert len(by_ip(store)) == 6
        time.sleep(1.2)  # older than the grace period (1 s)
        restarted = time.monotonic()
        ctl = controllers(lab, identity="c2", period=period)
        try:
            settle(lab, {"web-0"}, 1, timeout=period + 10)
            took = time.monotonic() - restarted
            check_clean(lab)
        finally:
            ctl.stop()
    # lease takeover (the old replica released its Lease) + one period + the first pass
    assert took <= period + 3.0, took


def test_forced_410_mid_run_relists_and_converges(tmp_path: Path, store: Store) -> None:
    with Lab(tmp_path, store, SUBNET, subnet_resource=True) as lab:
        ctl = controllers(lab)
        try:
            wait_for(lambda: SUBNET.name in {s.name for s in store.subnets()}, 20, "subnet synced")
            lab.client.create(STATEFULSETS, statefulset("web", 6, "immutable"), NS)
            ips = settle(lab, names("web", 6), 6)
            before = ctl.cache.informers["Pod"].relists
            lab.api.control.compact()
            scale(lab, "web", 3)
            lab.api.control.drop_watches()  # every watch resumes from a compacted version: 410
            after = settle(lab, names("web", 3), 3)
            assert after == {k: ips[k] for k in after}
            wait_for(
                lambda: ctl.cache.informers["Pod"].relists > before or None, 10, "pod informer re-listed"
            )
            check_clean(lab)
        finally:
            ctl.stop()


def test_two_replicas_never_both_act(tmp_path: Path, store: Store) -> None:
    with Lab(tmp_path, store, SUBNET, subnet_resource=True) as lab:
        a, b = controllers(lab, identity="a"), controllers(lab, identity="b")
        both: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.02):
                if a.gate.leading and b.gate.leading:
                    both.append(time.monotonic())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            leader = wait_for(lambda: a if a.gate.leading else b if b.gate.leading else None, 20, "a leader")
            other = b if leader is a else a
            lab.client.create(STATEFULSETS, statefulset("web", 3, "immutable"), NS)
            settle(lab, names("web", 3), 3)
            leader.stop()  # the standby takes over (the Lease is released on a clean stop)
            wait_for(lambda: other.gate.leading or None, 10, "takeover")
            scale(lab, "web", 1)
            settle(lab, names("web", 1), 1)
            check_clean(lab)
        finally:
            stop.set()
            sampler.join(5)
            for c in (a, b):
                c.stop()
        assert both == []


def test_flushall_rebuilds_without_duplicates(tmp_path: Path, store: Store, redis: RedisServer) -> None:
    with Lab(tmp_path, store, SUBNET, subnet_resource=True) as lab:
        ctl = controllers(lab)
        dup = DuplicateWatch(lab)
        try:
            wait_for(lambda: SUBNET.name in {s.name for s in store.subnets()}, 20, "subnet synced")
            lab.client.create(STATEFULSETS, statefulset("web", 3, "immutable"), NS)
            lab.client.create(DEPLOYMENTS, deployment("api", 3), NS)
            ips = settle(lab, lambda i: len(i) == 6, 6)
            # web-2 absent (kubelet stand-in paused while it is recreated): its IP is only reserved
            lab.fabric.enabled.clear()
            lab.client.delete(PODS, "web-2", NS)
            uid = lab.client.get(PODS, "web-2", NS)["metadata"]["uid"]
            lab.client.delete(PODS, "web-2", NS, uid=uid, grace_period=0)
            wait_for(
                lambda: by_ip(store)[ips["web-2"]].state is IPState.RESERVED or None, 10, "web-2 reserved"
            )
            redis.command("FLUSHALL")
            wait_for(lambda: ctl.rebuilder.count >= 1 or None, 20, "a rebuild")
            recs = by_ip(store)
            assert set(recs) == set(ips.values())  # every bound IP and the reservation are back
            assert recs[ips["web-2"]].state is IPState.RESERVED
            lab.fabric.enabled.set()  # web-2 comes back and new pods are scheduled
            lab.client.create(DEPLOYMENTS, deployment("more", 3), NS)
            final = settle_distinct(lab, 9)
            assert final["web-2"] == ips["web-2"]
        finally:
            duplicates = dup.stop()
            ctl.stop()
        assert duplicates == []


def test_sentinel_failover_loses_no_bound_ip(tmp_path: Path) -> None:
    with RedisSentinel(replicas=1) as se:
        store = open_store(se.url)
        store.initialise()
        with Lab(tmp_path, store, SUBNET, subnet_resource=True) as lab:
            ctl = controllers(lab)
            dup = DuplicateWatch(lab)
            try:
                wait_for(lambda: SUBNET.name in {s.name for s in store.subnets()}, 20, "subnet synced")
                lab.client.create(STATEFULSETS, statefulset("web", 4, "immutable"), NS)
                ips = settle(lab, names("web", 4), 4)
                assert command(se.master_port, "WAIT", 1, 5000) == 1
                rebuilds = ctl.rebuilder.count
                se.failover()
                wait_for(lambda: ctl.rebuilder.count > rebuilds or None, 30, "a rebuild after the failover")
                assert set(by_ip(store)) == set(ips.values())
                lab.client.create(DEPLOYMENTS, deployment("api", 2), NS)
                final = settle(lab, lambda i: len(i) == 6, 6)
                assert {k: final[k] for k in ips} == ips
                check_clean(lab)
            finally:
                duplicates = dup.stop()
                ctl.stop()
        store.close()
    assert duplicates == []


def test_restart_from_an_older_snapshot_hands_no_ip_out_twice(
    tmp_path: Path, store: Store, redis: RedisServer
) -> None:
    """Redis comes back from a snapshot that predates the last bindings (the marker survives, so
    only the run id tells) while the controllers are down: pods keep asking for IPs meanwhile,
    and none gets a lost holder's IP; the controllers come back, rebuild, and they get theirs."""
    with Lab(tmp_path, store, SUBNET, subnet_resource=True) as lab:
        ctl = controllers(lab)
        dup = DuplicateWatch(lab)
        try:
            wait_for(lambda: SUBNET.name in {s.name for s in store.subnets()}, 20, "subnet synced")
            lab.client.create(DEPLOYMENTS, deployment("api", 3), NS)
            settle(lab, lambda i: len(i) == 3, 3)
            redis.command("SAVE")  # what the server will come back from
            lab.client.create(DEPLOYMENTS, deployment("more", 3), NS)
            ips = settle(lab, lambda i: len(i) == 6, 6)
            ctl.stop()
            redis.stop(hard=True)
            redis.start()
            lab.client.create(DEPLOYMENTS, deployment("late", 3), NS)
            time.sleep(2)  # the fabric (the extender's bind) tries every 50 ms meanwhile
            assert live_pod_ips(lab.client) == ips  # refused: the store is not vouched for
            ctl = controllers(lab)
            wait_for(lambda: ctl.rebuilder.count >= 1 or None, 30, "a rebuild after the restart")
            final = settle_distinct(lab, 9)
            assert {k: final[k] for k in ips} == ips
        finally:
            duplicates = dup.stop()
            ctl.stop()
    assert duplicates == []
