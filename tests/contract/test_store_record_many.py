"""Contract: `record_many` writes what `record` would, one result per record, in order, across
pipeline chunks; refusals come back as errors in place, never raised."""

from __future__ import annotations

import ipaddress

from conftest import Backend
from store_contract_kit import ip, pod, subnet

from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.store.errors import IPTaken, NotAllocatable, StaleOperation, UnknownSubnet

BIG = subnet("dc1-a", "10.1.0.0/20", "10.1.0.1")


def seen(name: str, addr: str, uid: str, subnet_name: str = "dc1-a") -> AllocationRecord:
    return AllocationRecord(
        ip=ip(addr), subnet=subnet_name, owner=pod(name), state=IPState.BOUND, policy=ReleasePolicy.POD,
        pod_name=name, pod_uid=uid, node="n1", created_at=1.0, updated_at=1.0,
    )  # fmt: skip


def test_many_records_in_order_with_refusals_in_place(backend: Backend) -> None:
    store = backend.store
    store.put_subnet(BIG)
    store.begin_rebuild()
    base = int(ipaddress.ip_address("10.1.0.10"))
    recs = [seen(f"p{i}", str(ipaddress.ip_address(base + i)), f"u{i}") for i in range(2500)]
    bad = [
        seen("x", "10.1.0.10", "other"),  # taken by p0 (same batch, earlier)
        seen("y", "10.1.0.1", "uy"),  # the gateway
        seen("z", "10.9.0.5", "uz", subnet_name="nowhere"),
        seen("p1", "10.1.15.200", "u1"),  # u1 already holds another IP
    ]
    got = store.record_many(recs + bad)
    assert len(got) == 2504
    assert got[:2500] == recs
    assert isinstance(got[2500], IPTaken)
    assert isinstance(got[2501], NotAllocatable)
    assert isinstance(got[2502], UnknownSubnet)
    assert isinstance(got[2503], StaleOperation)
    assert store.record_many(recs[:10]) == recs[:10]  # idempotent
    reserved = AllocationRecord(ip("10.1.14.1"), "dc1-a", pod("r"), IPState.RESERVED, ReleasePolicy.NEVER,
                                pod_uid="ignored")  # fmt: skip
    out = store.record_many([reserved])[0]
    assert isinstance(out, AllocationRecord) and out.pod_uid == "" and out.state is IPState.RESERVED
    store.finish_rebuild()
    assert store.usage("dc1-a").allocated == 2500 and store.usage("dc1-a").reserved == 1
    assert store.get("dc1-a", ip("10.1.0.10")) == recs[0]
    assert store.record_many([]) == []
