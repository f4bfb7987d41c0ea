"""fip-controllers with StatefulSets on the lab: each release policy through scale-down, scale-up,
pod recreation and deletion; `fipctl check` clean after every step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ctl_kit import by_ip, check_clean, lab_with_controllers, recreated, settle
from fabric import NS, Lab, statefulset

from fip.core.record import IPState
from fip.kube.resources import PODS, STATEFULSETS
from fip.store.memory import MemoryStore
from lab.wait import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Lab, Any]]:
    store = MemoryStore()
    store.initialise()
    yield from lab_with_controllers(tmp_path, store)


def scale(lab: Lab, name: str, replicas: int) -> None:
    lab.client.patch(STATEFULSETS, name, {"spec": {"replicas": replicas}}, NS)


def test_immutable_keeps_ips_through_recreation_and_frees_on_scale_down(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(STATEFULSETS, statefulset("web", 3, "immutable"), NS)
    first = settle(lab, {"web-0", "web-1", "web-2"}, 3)
    check_clean(lab)
    # a pod recreated under the same name (new UID) gets its IP back
    old_uid = lab.client.get(PODS, "web-1", NS)["metadata"]["uid"]
    lab.client.delete(PODS, "web-1", NS)
    recreated(lab, "web-1", old_uid)
    again = settle(lab, {"web-0", "web-1", "web-2"}, 3)
    assert again == first
    check_clean(lab)
    # scale-down frees the IPs of ordinals >= replicas; the kept ones stay
    scale(lab, "web", 1)
    after = settle(lab, {"web-0"}, 1)
    assert after["web-0"] == first["web-0"]
    check_clean(lab)
    # scale back up: web-0 keeps its IP, new ordinals get IPs
    scale(lab, "web", 3)
    up = settle(lab, {"web-0", "web-1", "web-2"}, 3)
    assert up["web-0"] == first["web-0"]
    check_clean(lab)
    # deleting the StatefulSet frees everything
    lab.client.delete(STATEFULSETS, "web", NS)
    settle(lab, {}, 0)
    check_clean(lab)


def test_pod_policy_frees_with_the_pod(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(STATEFULSETS, statefulset("db", 2, "pod"), NS)
    first = settle(lab, {"db-0", "db-1"}, 2)
    lab.fabric.enabled.clear()  # hold the recreated pod Pending: its old IP must go
    lab.client.delete(PODS, "db-0", NS)
    # the kubelet stand-in is paused: confirm the deletion ourselves
    wait_for(
        lambda: lab.client.get(PODS, "db-0", NS)["metadata"].get("deletionTimestamp") or None,
        10,
        "terminating",
    )
    uid = lab.client.get(PODS, "db-0", NS)["metadata"]["uid"]
    lab.client.delete(PODS, "db-0", NS, uid=uid, grace_period=0)
    wait_for(lambda: first["db-0"] not in by_ip(lab.store) or None, 10, "db-0's IP freed")
    lab.fabric.enabled.set()
    settle(lab, {"db-0", "db-1"}, 2)
    check_clean(lab)
    scale(lab, "db", 0)
    settle(lab, {}, 0)
    check_clean(lab)


def test_never_keeps_ips_after_scale_down_and_deletion(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(STATEFULSETS, statefulset("keep", 2, "never"), NS)
    first = settle(lab, {"keep-0", "keep-1"}, 2)
    scale(lab, "keep", 1)
    settle(lab, {"keep-0"}, 2)
    wait_for(
        lambda: by_ip(lab.store)[first["keep-1"]].state is IPState.RESERVED or None, 10, "keep-1 reserved"
    )
    check_clean(lab)
    lab.client.delete(STATEFULSETS, "keep", NS)
    settle(lab, {}, 2)

    def both_reserved() -> bool:
        recs = by_ip(lab.store)
        return {recs[first["keep-0"]].state, recs[first["keep-1"]].state} == {IPState.RESERVED}

    wait_for(both_reserved, 10, "both IPs reserved after the deletion")
    check_clean(lab)
