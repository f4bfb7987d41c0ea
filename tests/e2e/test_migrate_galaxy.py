"""The IP-keeping step of docs/migrate-from-galaxy.md, end to end: Galaxy's allocations, written
as `fip.io/reserved-ips` on their workloads before fip's first start, come back through the
controllers' rebuild of a new, empty store, and the workloads' pods (Galaxy's release-policy
annotation kept as it was) get exactly those IPs. Also the documented limits: nothing is
restored for an owner that no longer exists, nor for a `pod`-policy workload. Real Redis, the
lab API server and workload controllers, fip-controllers in process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ctl_kit import SUBNET, by_ip, check_clean, settle
from fabric import NS, Lab, controllers, deployment, statefulset, tapp

from fip.core.policy import GALAXY_ANNOTATION
from fip.core.record import IPState
from fip.core.reservations import KEY as RESERVED_IPS
from fip.kube.resources import DEPLOYMENTS, STATEFULSETS, TAPPS
from fip.store.factory import open_store
from fip.store.protocol import Store
from lab.redisproc import RedisServer
from lab.wait import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def new_store() -> Iterator[Store]:
    """A brand-new Redis, never initialised: what `kubectl apply -k deploy/` starts."""
    with RedisServer(appendonly=True) as srv:
        s = open_store(srv.url)
        yield s
        s.close()


def galaxy_workload(obj: dict[str, object], policy: str, reserved: list[list[str]]) -> dict[str, object]:
    """A workload as it leaves Galaxy: Galaxy's policy annotation on the pod template (the
    resource renamed to fip.io/ip already), its IPs written by the migration step."""
    spec = obj["spec"]
    assert isinstance(spec, dict)
    spec["template"]["metadata"]["annotations"] = {GALAXY_ANNOTATION: policy}
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    meta["annotations"] = {RESERVED_IPS: json.dumps(reserved, separators=(",", ":"))}
    return obj


def test_galaxy_ips_come_back_through_the_first_rebuild(tmp_path: Path, new_store: Store) -> None:
    with Lab(tmp_path, new_store, SUBNET, subnet_resource=True) as lab:
        lab.fabric.enabled.clear()  # no pod is placed before fip's controllers ran once
        web = [[str(i), SUBNET.name, f"10.0.1.{77 + i}"] for i in range(3)]
        api = [["", SUBNET.name, "10.0.1.90"], ["", SUBNET.name, "10.0.1.91"]]
        lab.client.create(STATEFULSETS, galaxy_workload(statefulset("web", 3), "immutable", web), NS)
        lab.client.create(DEPLOYMENTS, galaxy_workload(deployment("api", 2), "never", api), NS)
        jobs = [["0", SUBNET.name, "10.0.1.80"], ["1", SUBNET.name, "10.0.1.81"]]
        lab.client.create(TAPPS, galaxy_workload(tapp("jobs", 2), "immutable", jobs), NS)
        # a pod-policy workload: Galaxy freed its IPs with the pods, so must fip
        lab.client.create(
            STATEFULSETS, galaxy_workload(statefulset("tmp", 1), "", [["0", SUBNET.name, "10.0.1.99"]]), NS
        )
        ctl = controllers(lab)
        try:
            wait_for(lambda: ctl.rebuilder.count >= 1 or None, 30, "the first rebuild")
            new_store.check_intact()  # the rebuild, not `fipctl init`, declared the new store intact
            kept = {"10.0.1.77", "10.0.1.78", "10.0.1.79", "10.0.1.80", "10.0.1.81", "10.0.1.90", "10.0.1.91"}
            # tmp's 10.0.1.99 is not kept (the rebuild may restore it; release frees it under `pod`)
            recs = wait_for(lambda: r if set(r := by_ip(new_store)) == kept else None, 20, "the kept IPs")
            assert {r.state for r in recs.values()} == {IPState.RESERVED}
            assert {str(r.owner.instance) for r in recs.values() if r.owner.name == "web"} == {"0", "1", "2"}
            lab.fabric.enabled.set()
            ips = settle(lab, lambda i: len(i) == 8, 8)
            assert {ips[f"web-{i}"] for i in range(3)} == {"10.0.1.77", "10.0.1.78", "10.0.1.79"}
            assert ips["web-0"] == "10.0.1.77" and ips["web-2"] == "10.0.1.79"  # each ordinal its own
            assert {v for k, v in ips.items() if k.startswith("api-")} == {"10.0.1.90", "10.0.1.91"}
            assert (ips["jobs-0"], ips["jobs-1"]) == ("10.0.1.80", "10.0.1.81")
            check_clean(lab, grace=0)
        finally:
            ctl.stop()


def test_an_owner_that_is_gone_gets_nothing_back(tmp_path: Path, new_store: Store) -> None:
    """Galaxy's `never` IPs of a deleted workload have no object to carry them: a documented limit."""
    with Lab(tmp_path, new_store, SUBNET, subnet_resource=True) as lab:
        lab.fabric.enabled.clear()
        obj = galaxy_workload(statefulset("db", 0), "never", [["0", SUBNET.name, "10.0.1.60"]])
        lab.client.create(STATEFULSETS, obj, NS)
        lab.client.delete(STATEFULSETS, "db", NS)
        ctl = controllers(lab)
        try:
            wait_for(lambda: ctl.rebuilder.count >= 1 or None, 30, "the first rebuild")
            assert by_ip(new_store) == {}
        finally:
            ctl.stop()
