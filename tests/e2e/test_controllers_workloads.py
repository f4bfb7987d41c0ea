"""fip-controllers with Deployments, TApps and bare pods on the lab: each release policy through
scale-down, scale-up, pod replacement and deletion; `fipctl check` clean after every step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ctl_kit import by_ip, check_clean, lab_with_controllers, recreated, settle, uid_of
from fabric import NS, Lab, bare_pod, deployment, tapp

from fip.core.record import IPState
from fip.kube.resources import DEPLOYMENTS, PODS, TAPPS
from fip.store.memory import MemoryStore
from lab.wait import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Lab, Any]]:
    store = MemoryStore()
    store.initialise()
    yield from lab_with_controllers(tmp_path, store)


def n_pods(n: int, prefix: str) -> Any:
    return lambda ips: len(ips) == n and all(k.startswith(prefix) for k in ips)


def test_deployment_immutable_keeps_its_ip_set_within_replicas(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(DEPLOYMENTS, deployment("api", 3, "immutable"), NS)
    first = settle(lab, n_pods(3, "api-"), 3)
    pool = set(first.values())
    check_clean(lab)
    # a replaced pod (new name) takes an IP of the set
    victim = sorted(first)[0]
    lab.client.delete(PODS, victim, NS)
    again = settle(lab, lambda ips: n_pods(3, "api-")(ips) and victim not in ips, 3)
    assert set(again.values()) == pool
    check_clean(lab)
    # scale-down frees the surplus, not the IPs of live pods
    lab.client.patch(DEPLOYMENTS, "api", {"spec": {"replicas": 1}}, NS)
    down = settle(lab, n_pods(1, "api-"), 1)
    assert set(down.values()) <= pool
    check_clean(lab)
    lab.client.patch(DEPLOYMENTS, "api", {"spec": {"replicas": 2}}, NS)
    settle(lab, n_pods(2, "api-"), 2)
    check_clean(lab)
    lab.client.delete(DEPLOYMENTS, "api", NS)
    settle(lab, {}, 0)
    check_clean(lab)


def test_deployment_pod_policy_and_never(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(DEPLOYMENTS, deployment("web", 2), NS)  # default policy: pod
    lab.client.create(DEPLOYMENTS, deployment("hold", 2, "never"), NS)
    ips = settle(lab, n_pods(4, ""), 4)
    lab.client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 0}}, NS)
    lab.client.patch(DEPLOYMENTS, "hold", {"spec": {"replicas": 0}}, NS)
    settle(lab, {}, 2)
    held = {ip for name, ip in ips.items() if name.startswith("hold-")}
    wait_for(
        lambda: {r.state for r in by_ip(lab.store).values()} == {IPState.RESERVED} or None, 10, "reserved"
    )
    assert set(by_ip(lab.store)) == held
    check_clean(lab)
    lab.client.patch(DEPLOYMENTS, "hold", {"spec": {"replicas": 2}}, NS)
    back = settle(lab, n_pods(2, "hold-"), 2)
    assert set(back.values()) == held  # the never-released set comes back
    check_clean(lab)


def test_tapp_immutable_killed_and_scaled(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(TAPPS, tapp("t", 3, "immutable"), NS)
    first = settle(lab, {"t-0", "t-1", "t-2"}, 3)
    check_clean(lab)
    old = uid_of(lab, "t-0")
    assert old
    lab.client.delete(PODS, "t-0", NS)
    recreated(lab, "t-0", old)
    assert settle(lab, {"t-0", "t-1", "t-2"}, 3) == first
    # killing instance 1 frees its IP; scaling to 2 frees instance 2's
    lab.client.patch(TAPPS, "t", {"spec": {"statuses": {"1": "Killed"}}}, NS)
    after = settle(lab, {"t-0", "t-2"}, 2)
    assert after == {"t-0": first["t-0"], "t-2": first["t-2"]}
    check_clean(lab)
    lab.client.patch(TAPPS, "t", {"spec": {"replicas": 2}}, NS)
    assert settle(lab, {"t-0"}, 1) == {"t-0": first["t-0"]}
    check_clean(lab)
    lab.client.delete(TAPPS, "t", NS)
    settle(lab, {}, 0)
    check_clean(lab)


def test_tapp_never_and_pod_policies(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(TAPPS, tapp("n", 2, "never"), NS)
    lab.client.create(TAPPS, tapp("p", 2), NS)
    first = settle(lab, {"n-0", "n-1", "p-0", "p-1"}, 4)
    lab.client.patch(TAPPS, "n", {"spec": {"replicas": 0}}, NS)
    lab.client.patch(TAPPS, "p", {"spec": {"replicas": 0}}, NS)
    settle(lab, {}, 2)
    assert set(by_ip(lab.store)) == {first["n-0"], first["n-1"]}
    check_clean(lab)


def test_bare_pod_released_with_the_pod(env: tuple[Lab, Any]) -> None:
    lab, _ = env
    lab.client.create(PODS, bare_pod("solo"), NS)
    ips = settle(lab, {"solo"}, 1)
    lab.client.delete(PODS, "solo", NS)
    settle(lab, {}, 0)
    assert ips["solo"] not in by_ip(lab.store)
    check_clean(lab)
