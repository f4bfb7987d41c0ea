"""Contract: allocation order, families, exhaustion, requested IPs and pools (every backend)."""

from __future__ import annotations

import time

import pytest
from store_contract_kit import deploy, ip, pod, req, snapshot, sts, subnet

from fip.core.record import IPState
from fip.core.subnet import Pool
from fip.store.errors import (
    IPTaken,
    NoFreeIP,
    NotAllocatable,
    PoolForbidden,
    PoolFull,
    StaleOperation,
    UnknownPool,
    UnknownSubnet,
)
from fip.store.protocol import Store

SMALL = subnet(ranges=(("10.0.1.10", "10.0.1.14"),), excluded=("10.0.1.12",), reserved=("10.0.1.13",))


def test_first_allocation_takes_first_allocatable_address(store: Store) -> None:
    store.put_subnet(SMALL)
    rec = store.allocate(req(pod("a"), "u1", now=10.0))
    assert rec.ip == ip("10.0.1.10")
    assert rec.state == IPState.ALLOCATED
    assert (rec.pod_uid, rec.node, rec.created_at, rec.updated_at) == ("u1", "node-1", 10.0, 10.0)
    assert store.get("dc1-a", rec.ip) == rec
    assert store.by_pod("dc1-a", "u1") == rec


def test_retry_with_same_uid_returns_same_ip_and_changes_nothing(store: Store) -> None:
    store.put_subnet(SMALL)
    first = store.allocate(req(pod("a"), "u1"))
    before = snapshot(store)
    again = store.allocate(req(pod("a"), "u1", now=999.0))
    assert again == first
    assert snapshot(store) == before


def test_uid_held_by_other_owner_is_refused(store: Store) -> None:
    store.put_subnet(SMALL)
    store.allocate(req(pod("a"), "u1"))
    before = snapshot(store)
    with pytest.raises(StaleOperation, match=r'pod UID "u1" already holds IP 10.0.1.10'):
        store.allocate(req(pod("b"), "u1"))
    assert snapshot(store) == before


def test_excluded_gateway_and_subnet_reserved_are_skipped_until_exhaustion(store: Store) -> None:
    store.put_subnet(SMALL)
    got = [store.allocate(req(pod(f"p{i}"), f"u{i}")).ip for i in range(3)]
    assert got == [ip("10.0.1.10"), ip("10.0.1.11"), ip("10.0.1.14")]
    before = snapshot(store)
    with pytest.raises(NoFreeIP, match=r'subnet "dc1-a": no free IP \(3 of 4 allocated, 0 reserved\)'):
        store.allocate(req(pod("x"), "ux"))
    assert snapshot(store) == before
    store.release("dc1-a", ip("10.0.1.11"), pod("p1"), "u1", 200.0)
    assert store.allocate(req(pod("y"), "uy")).ip == ip("10.0.1.11")


def test_owner_reserved_ip_comes_first(store: Store) -> None:
    store.put_subnet(SMALL)
    rec = store.allocate(req(sts("web", 0), "u1"))
    store.allocate(req(pod("other"), "u2"))
    store.reserve("dc1-a", rec.ip, sts("web", 0), "u1", 150.0)
    back = store.allocate(req(sts("web", 0), "u3", requested="10.0.1.14", now=160.0))
    assert back.ip == rec.ip
    assert (back.state, back.pod_uid, back.created_at, back.updated_at) == (
        IPState.ALLOCATED,
        "u3",
        100.0,
        160.0,
    )
    assert store.usage("dc1-a").reserved == 0


def test_requested_ip_free_taken_and_not_allocatable(store: Store) -> None:
    store.put_subnet(SMALL)
    assert store.allocate(req(pod("a"), "u1", requested="10.0.1.13")).ip == ip("10.0.1.13")
    before = snapshot(store)
    with pytest.raises(IPTaken, match=r"IP 10.0.1.13 is held by default/Pod/a"):
        store.allocate(req(pod("b"), "u2", requested="10.0.1.13"))
    for bad in ("10.0.1.12", "10.0.1.1", "10.0.1.0", "10.0.1.200", "10.0.2.5", "fd00::5"):
        with pytest.raises(NotAllocatable, match=f"IP {bad} cannot be handed out"):
            store.allocate(req(pod("b"), "u2", requested=bad))
    assert snapshot(store) == before
    # the cursor later skips the address handed out on request
    assert [store.allocate(req(pod(f"p{i}"), f"v{i}")).ip for i in range(3)] == [
        ip("10.0.1.10"),
        ip("10.0.1.11"),
        ip("10.0.1.14"),
    ]


def test_requested_ip_ahead_of_cursor_released_is_never_handed_out_twice(store: Store) -> None:
    store.put_subnet(SMALL)
    store.allocate(req(pod("a"), "u1", requested="10.0.1.11"))
    store.release("dc1-a", ip("10.0.1.11"), pod("a"), "u1", 1.0)
    got = [store.allocate(req(pod(f"p{i}"), f"v{i}")).ip for i in range(3)]
    assert sorted(got) == [ip("10.0.1.10"), ip("10.0.1.11"), ip("10.0.1.14")]
    with pytest.raises(NoFreeIP):
        store.allocate(req(pod("z"), "uz"))


def test_ipv6_subnet(store: Store) -> None:
    v6 = subnet("v6", "fd00:1::/64", "fd00:1::1", excluded=("fd00:1::3",))
    store.put_subnet(v6)
    got = [store.allocate(req(pod(f"p{i}"), f"u{i}", subnet_name="v6")).ip for i in range(3)]
    assert got == [ip("fd00:1::2"), ip("fd00:1::4"), ip("fd00:1::5")]
    assert store.allocate(req(pod("r"), "ur", "v6", requested="fd00:1::ffff:0:1")).ip == ip(
        "fd00:1::ffff:0:1"
    )
    usage = store.usage("v6")
    assert (usage.allocated, usage.reserved) == (4, 0)
    assert usage.total == 2**64 - 3


def test_ipv6_cursor_carries_across_48_bit_boundary(store: Store) -> None:
    v6 = subnet("v6c", "fd00:2::/64", "fd00:2::1", ranges=(("fd00:2::ffff:ffff:fffe", "fd00:2:0:0:1::2"),))
    store.put_subnet(v6)
    got = [store.allocate(req(pod(f"p{i}"), f"u{i}", subnet_name="v6c")).ip for i in range(5)]
    start = int(ip("fd00:2::ffff:ffff:fffe"))  # the low 48 bits overflow after the second address
    assert [int(x) for x in got] == [start + i for i in range(5)]
    assert str(got[2]) == "fd00:2:0:0:1::"


def test_unknown_subnet(store: Store) -> None:
    with pytest.raises(UnknownSubnet, match=r'subnet "nope" is not defined'):
        store.allocate(req(pod("a"), "u1", subnet_name="nope"))
    with pytest.raises(UnknownSubnet):
        store.usage("nope")


def test_pool_cap_forbidden_and_unknown(store: Store) -> None:
    store.put_subnet(subnet())
    store.put_pool(Pool("gold", "dc1-a", 2, frozenset({"db"})))
    assert store.pools() == [Pool("gold", "dc1-a", 2, frozenset({"db"}))]
    a = store.allocate(req(pod("a", "db"), "u1", pool="gold"))
    store.allocate(req(pod("b", "db"), "u2", pool="gold"))
    assert a.pool == "gold"
    before = snapshot(store)
    with pytest.raises(PoolFull, match=r'pool "gold" in subnet "dc1-a" is full \(2 of 2 IPs in use\)'):
        store.allocate(req(pod("c", "db"), "u3", pool="gold"))
    with pytest.raises(PoolForbidden, match=r'namespace "web" may not use pool "gold" \(allowed: db\)'):
        store.allocate(req(pod("c", "web"), "u4", pool="gold"))
    with pytest.raises(UnknownPool, match=r'pool "silver" is not defined in subnet "dc1-a"'):
        store.allocate(req(pod("c", "db"), "u5", pool="silver"))
    assert snapshot(store) == before
    store.release("dc1-a", a.ip, pod("a", "db"), "u1", 1.0)
    assert store.allocate(req(pod("c", "db"), "u3", pool="gold")).pool == "gold"


def test_pool_reserved_ip_does_not_count_twice(store: Store) -> None:
    store.put_subnet(subnet())
    store.put_pool(Pool("one", "dc1-a", 1, frozenset({"*"})))
    rec = store.allocate(req(sts("db", 0), "u1", pool="one"))
    store.reserve("dc1-a", rec.ip, sts("db", 0), "u1", 1.0)
    assert store.allocate(req(sts("db", 0), "u2", pool="one")).ip == rec.ip
    with pytest.raises(PoolFull):
        store.allocate(req(sts("db", 1), "u3", pool="one"))


def test_deleted_pool_hands_nothing_out_and_keeps_its_ips_counted(store: Store) -> None:
    store.put_subnet(subnet())
    store.put_pool(Pool("gold", "dc1-a", 2, frozenset({"db"})))
    a = store.allocate(req(pod("a", "db"), "u1", pool="gold"))
    store.delete_pool("gold")
    store.delete_pool("gold")  # idempotent
    store.delete_pool("never-was")
    assert store.pools() == []
    with pytest.raises(UnknownPool, match=r'pool "gold" is not defined in subnet "dc1-a"'):
        store.allocate(req(pod("b", "db"), "u2", pool="gold"))
    assert store.get("dc1-a", a.ip) == a  # the holder keeps its IP (and its pool label)
    store.put_pool(Pool("gold", "dc1-a", 1, frozenset({"db"})))  # defined again: a still counts
    with pytest.raises(PoolFull):
        store.allocate(req(pod("b", "db"), "u2", pool="gold"))
    store.release("dc1-a", a.ip, pod("a", "db"), "u1", 1.0)
    assert store.allocate(req(pod("b", "db"), "u2", pool="gold")).pool == "gold"


def test_deployment_owns_a_set(store: Store) -> None:
    store.put_subnet(subnet())
    ips = {store.allocate(req(deploy("api"), f"u{i}")).ip for i in range(3)}
    assert {r.ip for r in store.by_owner(deploy("api"))} == ips


def test_million_address_subnet_is_created_fast(store: Store) -> None:
    big = subnet("big", "10.64.0.0/12", "10.64.0.1")
    t0 = time.perf_counter()
    store.put_subnet(big)
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.5
    assert store.usage("big").total == 2**20 - 3
    t0 = time.perf_counter()
    for i in range(50):
        store.allocate(req(pod(f"p{i}"), f"u{i}", subnet_name="big"))
    assert time.perf_counter() - t0 < 2.0
    assert store.usage("big").allocated == 50
