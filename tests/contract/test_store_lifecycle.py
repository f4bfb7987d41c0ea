"""Contract: bind / reserve / release with stale refusal, reads, usage and subnet changes."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest
from store_contract_kit import deploy, ip, pod, req, snapshot, sts, subnet

from fip.core.record import AllocationRecord, IPState
from fip.core.subnet import NodeSelection
from fip.store.errors import StaleOperation, SubnetInUse
from fip.store.protocol import Store


@pytest.fixture
def held(store: Store) -> AllocationRecord:
    store.put_subnet(subnet())
    return store.allocate(req(sts("web", 0), "u1"))


def test_bind_marks_bound_and_is_idempotent(store: Store, held: AllocationRecord) -> None:
    b = store.bind("dc1-a", held.ip, "u1", "node-2", 200.0)
    assert (b.state, b.node, b.updated_at, b.created_at) == (IPState.BOUND, "node-2", 200.0, 100.0)
    assert store.bind("dc1-a", held.ip, "u1", "node-2", 300.0) == b


def test_stale_bind_reserve_release_are_refused_and_change_nothing(
    store: Store, held: AllocationRecord
) -> None:
    before = snapshot(store)
    with pytest.raises(StaleOperation, match=r'refused to bind IP 10.0.1.2 for pod UID "old".*pod UID "u1"'):
        store.bind("dc1-a", held.ip, "old", "node-1", 1.0)
    with pytest.raises(
        StaleOperation,
        match=r'refused to reserve IP 10.0.1.2 for default/StatefulSet/web/0 with pod UID "old"',
    ):
        store.reserve("dc1-a", held.ip, sts("web", 0), "old", 1.0)
    with pytest.raises(StaleOperation, match=r"refused to release"):
        store.release("dc1-a", held.ip, sts("web", 0), "old", 1.0)
    with pytest.raises(StaleOperation, match=r"held by default/StatefulSet/web/0"):
        store.release("dc1-a", held.ip, sts("web", 1), "u1", 1.0)
    with pytest.raises(StaleOperation, match=r"the IP is free"):
        store.bind("dc1-a", ip("10.0.1.77"), "u1", "node-1", 1.0)
    assert snapshot(store) == before


def test_reserve_then_release_with_empty_uid(store: Store, held: AllocationRecord) -> None:
    r = store.reserve("dc1-a", held.ip, sts("web", 0), "u1", 5.0)
    assert (r.state, r.pod_uid, r.node) == (IPState.RESERVED, "", "")
    assert store.reserve("dc1-a", held.ip, sts("web", 0), "u1", 6.0) == r
    assert store.by_pod("dc1-a", "u1") is None
    u = store.usage("dc1-a")
    assert (u.allocated, u.reserved, u.free) == (0, 1, u.total - 1)
    with pytest.raises(StaleOperation):
        store.release("dc1-a", held.ip, sts("web", 0), "u1", 7.0)
    freed = store.release("dc1-a", held.ip, sts("web", 0), "", 7.0)
    assert freed == r
    assert store.get("dc1-a", held.ip) is None
    assert store.release("dc1-a", held.ip, sts("web", 0), "", 8.0) is None


def test_release_is_idempotent_and_force_release_frees_anything(store: Store, held: AllocationRecord) -> None:
    assert store.release("dc1-a", held.ip, sts("web", 0), "u1", 1.0) == held
    assert store.release("dc1-a", held.ip, sts("web", 0), "u1", 1.0) is None
    again = store.allocate(req(pod("x"), "ux", requested=str(held.ip)))
    assert store.force_release("dc1-a", again.ip) == again
    assert store.force_release("dc1-a", again.ip) is None
    assert store.usage("dc1-a").allocated == 0


def test_by_owner_workload_key_returns_instances(store: Store) -> None:
    store.put_subnet(subnet())
    store.put_subnet(subnet("dc1-b", "10.0.2.0/24", "10.0.2.1"))
    a = store.allocate(req(sts("web", 0), "u0"))
    b = store.allocate(req(sts("web", 1), "u1", subnet_name="dc1-b"))
    store.allocate(req(sts("webx", 0), "u2"))
    store.allocate(req(sts("web", 0, ns="other"), "u3"))
    assert store.by_owner(sts("web", 0)) == [a]
    assert store.by_owner(sts("web", 0).workload()) == [a, b]
    assert store.by_owner(deploy("web")) == []
    store.release("dc1-a", a.ip, sts("web", 0), "u0", 1.0)
    assert store.by_owner(sts("web", 0).workload()) == [b]


def test_by_subnet_sorted_and_usage_invariant(store: Store) -> None:
    store.put_subnet(subnet(reserved=("10.0.1.50",)))
    recs = [store.allocate(req(pod(f"p{i}"), f"u{i}")) for i in range(5)]
    store.reserve("dc1-a", recs[1].ip, pod("p1"), "u1", 1.0)
    store.allocate(req(pod("r"), "ur", requested="10.0.1.50"))
    listed = store.by_subnet("dc1-a")
    assert [r.ip for r in listed] == sorted(r.ip for r in listed)
    assert len(listed) == 6
    u = store.usage("dc1-a")
    assert u.total == 253  # 254 hosts minus the gateway; .50 counts (requestable on request)
    assert (u.allocated, u.reserved) == (5, 1)
    assert u.free + u.allocated + u.reserved == u.total


def test_put_subnet_refuses_to_orphan_held_ips(store: Store) -> None:
    store.put_subnet(subnet())
    held = store.allocate(req(pod("a"), "u1", requested="10.0.1.100"))
    before = snapshot(store)
    with pytest.raises(
        SubnetInUse, match=r'subnet "dc1-a": this change would orphan 1 held IP\(s\) \(10.0.1.100\)'
    ):
        store.put_subnet(subnet(ranges=(("10.0.1.10", "10.0.1.20"),)))
    with pytest.raises(SubnetInUse):
        store.put_subnet(subnet(excluded=("10.0.1.100",)))
    with pytest.raises(SubnetInUse, match=r"deleting it would orphan 1"):
        store.delete_subnet("dc1-a")
    assert snapshot(store) == before
    store.put_subnet(subnet(ranges=(("10.0.1.90", "10.0.1.110"),)))
    got = {store.allocate(req(pod(f"p{i}"), f"v{i}")).ip for i in range(20)}
    assert held.ip not in got
    assert all(ip("10.0.1.90") <= x <= ip("10.0.1.110") for x in got)
    store.release("dc1-a", held.ip, pod("a"), "u1", 1.0)
    for i in range(20):
        store.force_release("dc1-a", ip(f"10.0.1.{90 + i}"))
    store.force_release("dc1-a", ip("10.0.1.110"))
    store.delete_subnet("dc1-a")
    assert store.subnets() == []


def test_put_same_subnet_again_keeps_state(store: Store, held: AllocationRecord) -> None:
    before = snapshot(store)
    store.put_subnet(subnet())
    assert snapshot(store) == before
    assert store.allocate(req(pod("b"), "u2")).ip == ip("10.0.1.3")


def test_subnet_definitions_round_trip(store: Store) -> None:
    full = replace(
        subnet(
            "dc2-b",
            "fd00:5::/120",
            "fd00:5::1",
            ranges=(("fd00:5::10", "fd00:5::20"), ("fd00:5::30", "fd00:5::30")),
        ),
        vlan=42,
        excluded=frozenset({ip("fd00:5::11")}),
        reserved=frozenset({ip("fd00:5::12")}),
        nodes=NodeSelection(
            (("fip.io/l2", "dc2-b"), ("zone", "z1")), (ipaddress.ip_network("192.168.2.0/24"),)
        ),
    )
    store.put_subnet(full)
    store.put_subnet(subnet())
    assert store.subnets() == [subnet(), full]
    assert store.usage("dc2-b").total == 17 + 1 - 1  # 17 in ranges + .30, minus the excluded one
