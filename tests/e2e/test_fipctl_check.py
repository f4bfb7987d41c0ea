"""`fipctl check` against the lab API server and a store: clean when consistent, each injected
inconsistency reported (table and JSON), exit 1; no controller running."""

from __future__ import annotations

import io
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fabric import NS, Lab, statefulset

from fip.cli.fipctl import main
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.core.subnet import IPRange, Subnet
from fip.kube.resources import STATEFULSETS
from fip.store.memory import MemoryStore
from lab.wait import wait_for

pytestmark = pytest.mark.e2e
SUBNET = Subnet(
    "dc1-a",
    ipaddress.ip_network("10.0.1.0/24"),
    ipaddress.ip_address("10.0.1.1"),
    ranges=(IPRange(ipaddress.ip_address("10.0.1.10"), ipaddress.ip_address("10.0.1.99")),),
)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    store = MemoryStore()
    store.initialise()
    with Lab(tmp_path, store, SUBNET) as lab:
        yield lab


def fipctl(lab: Lab, *args: str, now: float | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["check", "--kubeconfig", lab.kubeconfig, *args],
        environ={"FIP_REDIS_URL": "memory://x"},
        stdout=out,
        stderr=err,
        opener=lambda url, field: lab.store,
        **({"clock": (lambda: now)} if now is not None else {}),  # type: ignore[arg-type]
    )
    return code, out.getvalue(), err.getvalue()


def bound(lab: Lab, n: int) -> list[AllocationRecord]:
    def ready() -> list[AllocationRecord] | None:
        recs = lab.store.by_subnet("dc1-a")
        return recs if len(recs) == n and all(r.state is IPState.BOUND for r in recs) else None

    return wait_for(ready, 20, f"{n} bound records")


def test_clean_then_every_injected_problem(lab: Lab) -> None:
    lab.client.create(STATEFULSETS, statefulset("web", 3, "immutable"), NS)
    recs = bound(lab, 3)
    code, out, err = fipctl(lab)
    assert (code, err) == (0, ""), out
    assert out.startswith("no problems: 3 records in 1 subnets, 3 pods, 1 workloads")

    lab.fabric.enabled.clear()  # nothing repairs what we break now
    # missing: a live pod's record vanishes
    lab.store.force_release("dc1-a", recs[0].ip)
    # leaked: a record of a deleted StatefulSet, old enough
    ghost = OwnerKey.of(NS, "StatefulSet", "gone", 0)
    lab.store.record(
        AllocationRecord(
            ipaddress.ip_address("10.0.1.50"), "dc1-a", ghost, IPState.RESERVED, ReleasePolicy.IMMUTABLE
        )
    )
    # uid mismatch: a live pod's record names another uid
    other = replace(recs[1], pod_uid="not-the-pod")
    lab.store.force_release("dc1-a", recs[1].ip)
    lab.store.record(other)

    code, out, _ = fipctl(lab)
    assert code == 1
    assert "missing" in out and "leaked" in out and "uid-mismatch" in out
    code, out, _ = fipctl(lab, "-o", "json")
    got = json.loads(out)
    kinds = sorted((p["problem"], p["ip"]) for p in got["problems"])
    assert kinds == sorted(
        [("missing", str(recs[0].ip)), ("leaked", "10.0.1.50"), ("uid-mismatch", str(recs[1].ip))]
    ), kinds
    assert got["checked"] == {"subnets": 1, "records": 3, "pods": 3, "workloads": 1}


def test_grace_hides_fresh_leaks_and_bad_flags_are_usage_errors(lab: Lab) -> None:
    fresh = OwnerKey.of(NS, "Pod", "gone")
    rec = AllocationRecord(
        ipaddress.ip_address("10.0.1.60"), "dc1-a", fresh, IPState.BOUND, ReleasePolicy.POD, "gone", "u1",
        created_at=1000.0, updated_at=1000.0,
    )  # fmt: skip
    lab.store.record(rec)
    assert fipctl(lab, now=1010.0)[0] == 0
    code, out, _ = fipctl(lab, "--grace", "5", now=1010.0)
    assert code == 1 and "leaked" in out
    assert fipctl(lab, "--grace", "nan")[0] == 2
    assert fipctl(lab, "--grace", "-1")[0] == 2


def test_unreachable_api_server_is_one_line(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
        "users: [{name: u, user: {}}]\n"
    )
    store = MemoryStore()
    store.initialise()
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", "--kubeconfig", str(kc)], environ={"FIP_REDIS_URL": "memory://x"},
                stdout=out, stderr=err, opener=lambda u, f: store)  # fmt: skip
    assert code == 1
    assert err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
