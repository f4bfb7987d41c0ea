"""`pod`-policy IPs are freed promptly on pod deletion by the release reconciler, with the
production timers (grace and reconcile period 60 s): the periodic reconcile, which needs the
grace period and two confirmations, must not be what frees them (issue 10, item 2)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from ctl_kit import SUBNET, by_ip, check_clean, lab_with_controllers, settle, uid_of
from fabric import NS, Lab, bare_pod, controllers, deployment, live_pod_ips

from controllers.release import CLOCK_SKEW
from fip.kube.resources import DEPLOYMENTS, PODS
from fip.store.memory import MemoryStore
from lab.wait import wait_for

pytestmark = pytest.mark.e2e
PROMPT = 8.0  # seconds; far below the 60 s grace + 60 s period of the periodic path


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Lab, Any]]:
    store = MemoryStore()
    store.initialise()
    yield from lab_with_controllers(tmp_path, store, period=60.0, grace=60.0)


def freed(lab: Lab, ip: str) -> Any:
    return lambda: ip not in by_ip(lab.store) or None


def test_bare_pod_ip_freed_at_once_on_deletion(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(PODS, bare_pod("solo"), NS)
    ips = settle(lab, {"solo"}, 1)
    uid = uid_of(lab, "solo")
    lab.client.delete(PODS, "solo", NS, uid=uid, grace_period=0)
    wait_for(freed(lab, ips["solo"]), PROMPT, "the bare pod's IP freed")
    check_clean(lab)


def test_deployment_pods_ips_freed_at_once_when_replaced_and_scaled_down(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(DEPLOYMENTS, deployment("web", 2), NS)  # default policy: pod
    ips = settle(lab, lambda got: len(got) == 2 and all(k.startswith("web-") for k in got), 2)
    victim = sorted(ips)[0]
    lab.client.delete(PODS, victim, NS, uid=uid_of(lab, victim), grace_period=0)
    wait_for(freed(lab, ips[victim]), PROMPT, f"{victim}'s IP freed")
    settle(lab, lambda got: len(got) == 2 and victim not in got, 2, timeout=PROMPT)
    lab.client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 0}}, NS)
    settle(lab, {}, 0, timeout=PROMPT)
    check_clean(lab)


def test_churned_deployment_pods_ips_freed_at_once(env: tuple[Lab, Any]) -> None:
    """Pods deleted (gracefully) while others are being scheduled and bound: every deleted
    pod's IP is freed within seconds, never a live pod's."""
    lab, _ = env
    lab.client.create(DEPLOYMENTS, deployment("churn", 4), NS)
    settle(lab, lambda got: len(got) == 4 and all(k.startswith("churn-") for k in got), 4)
    for _ in range(6):
        for p in lab.client.list(PODS, NS).get("items") or []:
            if p["metadata"]["name"].startswith("churn-") and not p["metadata"].get("deletionTimestamp"):
                lab.client.delete(PODS, p["metadata"]["name"], NS)
        time.sleep(0.3)
    settle(lab, lambda got: len(got) == 4 and all(k.startswith("churn-") for k in got), 4, timeout=PROMPT * 2)
    check_clean(lab)
    lab.client.patch(DEPLOYMENTS, "churn", {"spec": {"replicas": 0}}, NS)
    settle(lab, {}, 0, timeout=PROMPT)
    check_clean(lab)


def test_pods_deleted_while_no_controller_ran_are_freed_at_once_after_restart(tmp_path: Path) -> None:
    """The deletions happened while the (single) controller was down: no DELETED event, no
    tombstone. The restarted controller's pod list was taken after the records were written and
    does not hold their pods: that is the evidence, no grace period or second pass needed."""
    store = MemoryStore()
    store.initialise()
    with Lab(tmp_path, store, SUBNET, subnet_resource=True) as lab:
        ctl = controllers(lab, period=60.0, grace=60.0)
        try:
            wait_for(lambda: SUBNET.name in {s.name for s in store.subnets()}, 20, "subnet synced")
            lab.client.create(DEPLOYMENTS, deployment("web", 2), NS)  # policy pod
            lab.client.create(PODS, bare_pod("solo"), NS)
            settle(lab, lambda got: len(got) == 3, 3)
        finally:
            ctl.stop()
        lab.client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 1}}, NS)
        lab.client.delete(PODS, "solo", NS, uid=uid_of(lab, "solo"), grace_period=0)
        wait_for(lambda: len(live_pod_ips(lab.client)) == 2 or None, 20, "pods gone")
        assert len(by_ip(store)) == 3
        time.sleep(CLOCK_SKEW + 0.5)  # the records are older than the next list by the skew allowed
        ctl = controllers(lab, identity="c2", period=60.0, grace=60.0)
        try:
            settle(
                lab, lambda got: len(got) == 1 and all(k.startswith("web-") for k in got), 1, timeout=PROMPT
            )
            check_clean(lab)
        finally:
            ctl.stop()


def test_record_written_after_the_deletion_was_handled_is_freed_within_one_period(tmp_path: Path) -> None:
    """A store write that lands after the pod's DELETED event was handled (an extender killed
    between allocating and undoing, a write replayed from Redis's AOF): the periodic pass hands
    the owner to the release path, which frees it on the tombstone, long before grace + 2 passes."""
    store = MemoryStore()
    store.initialise()
    period = 2.0
    with Lab(tmp_path, store, SUBNET, subnet_resource=True) as lab:
        ctl = controllers(lab, period=period, grace=60.0)
        try:
            wait_for(lambda: SUBNET.name in {s.name for s in store.subnets()}, 20, "subnet synced")
            lab.client.create(PODS, bare_pod("late"), NS)
            ips = settle(lab, {"late"}, 1)
            rec = by_ip(store)[ips["late"]]
            lab.client.delete(PODS, "late", NS, uid=rec.pod_uid, grace_period=0)
            wait_for(freed(lab, ips["late"]), PROMPT, "the pod's IP freed")
            now = time.time()
            store.record(replace(rec, created_at=now, updated_at=now))  # the late write
            assert ips["late"] in by_ip(store)
            wait_for(freed(lab, ips["late"]), period + 3.0, "the late record freed")
            check_clean(lab)
        finally:
            ctl.stop()
