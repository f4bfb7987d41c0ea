"""Contract: the store notices lost state and refuses to allocate until a rebuild finishes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import Backend
from store_contract_kit import ip, pod, req, subnet

from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.store.errors import IPTaken, NotAllocatable, ServerChanged, StaleOperation, StateLost
from fip.store.factory import open_store
from fip.store.memory import MemoryStore
from lab.redisproc import RedisCluster, RedisServer

SMALL = subnet(ranges=(("10.0.1.10", "10.0.1.13"),))


def _seen(owner_name: str, addr: str, uid: str, subnet_name: str = "dc1-a") -> AllocationRecord:
    return AllocationRecord(
        ip=ip(addr),
        subnet=subnet_name,
        owner=pod(owner_name),
        state=IPState.BOUND,
        policy=ReleasePolicy.POD,
        pod_name=owner_name,
        pod_uid=uid,
        node="node-1",
        created_at=1.0,
        updated_at=2.0,
    )


def test_new_store_refuses_until_initialised() -> None:
    mem = MemoryStore()
    mem.put_subnet(SMALL)
    with pytest.raises(StateLost, match=r"allocation state lost"):
        mem.allocate(req(pod("a"), "u1"))
    with pytest.raises(StateLost):
        mem.check_intact()
    mem.initialise()
    mem.check_intact()
    assert mem.allocate(req(pod("a"), "u1")).ip == ip("10.0.1.10")


def test_loss_stops_allocation_and_rebuild_resumes_it(backend: Backend) -> None:
    store = backend.store
    store.put_subnet(SMALL)
    a = store.allocate(req(pod("a"), "u1"))
    b = store.allocate(req(pod("b"), "u2"))
    store.check_intact()
    backend.lose()
    with pytest.raises(StateLost, match=r"allocation state lost \(marker missing"):
        store.check_intact()
    with pytest.raises(StateLost, match=r"allocation is stopped until the controllers rebuild it"):
        store.allocate(req(pod("c"), "u3"))
    # re-syncing subnet definitions must not hide the loss
    store.put_subnet(SMALL)
    with pytest.raises(StateLost):
        store.allocate(req(pod("c"), "u3"))
    with pytest.raises(StateLost):
        store.check_intact()
    store.begin_rebuild()
    with pytest.raises(StateLost, match=r"rebuild of the allocation state is in progress"):
        store.allocate(req(pod("c"), "u3"))
    assert store.record(_seen("a", str(a.ip), "u1")).state == IPState.BOUND
    assert store.record(_seen("b", str(b.ip), "u2")).ip == b.ip
    assert store.record(_seen("b", str(b.ip), "u2")).ip == b.ip  # idempotent
    with pytest.raises(IPTaken):
        store.record(_seen("z", str(b.ip), "u9"))
    store.finish_rebuild()
    store.check_intact()
    got = {store.allocate(req(pod(f"n{i}"), f"v{i}")).ip for i in range(2)}
    assert got.isdisjoint({a.ip, b.ip})
    assert store.usage("dc1-a").allocated == 4


def test_begin_rebuild_without_loss_pauses_allocation(backend: Backend) -> None:
    store = backend.store
    store.put_subnet(SMALL)
    store.begin_rebuild()
    with pytest.raises(StateLost, match=r"in progress"):
        store.allocate(req(pod("a"), "u1"))
    with pytest.raises(StateLost):
        store.check_intact()
    store.put_subnet(subnet("dc1-b", "10.0.2.0/24", "10.0.2.1"))
    store.finish_rebuild()
    assert store.allocate(req(pod("a"), "u1")).ip == ip("10.0.1.10")
    assert store.allocate(req(pod("b"), "u2", subnet_name="dc1-b")).ip == ip("10.0.2.2")


def test_restart_of_non_persistent_server_is_detected() -> None:
    with RedisServer() as srv:
        store = open_store(srv.url)
        store.initialise()
        store.put_subnet(SMALL)
        held = store.allocate(req(pod("a"), "u1"))
        srv.restart()  # comes back empty: no marker, no data, no function library
        with pytest.raises(StateLost, match=r"marker missing"):
            store.allocate(req(pod("b"), "u2"))
        store.put_subnet(SMALL)
        with pytest.raises(StateLost):
            store.allocate(req(pod("b"), "u2"))
        store.begin_rebuild()
        store.record(_seen("a", str(held.ip), "u1"))
        store.finish_rebuild()
        assert store.allocate(req(pod("b"), "u2")).ip != held.ip
        store.close()


def test_restart_of_persistent_server_keeps_its_data_but_allocates_after_a_rebuild() -> None:
    with RedisServer(appendonly=True) as srv:
        store = open_store(srv.url)
        store.initialise()
        store.put_subnet(SMALL)
        first = store.allocate(req(pod("a"), "u1"))
        srv.restart()
        assert store.get("dc1-a", first.ip) == first
        with pytest.raises(ServerChanged, match="fipctl init --accept-server"):
            store.allocate(req(pod("b"), "u2"))
        assert store.usage("dc1-a").allocated == 1  # the refusal wrote nothing
        store.begin_rebuild()
        store.record(first)
        store.finish_rebuild()
        store.check_intact()
        assert store.allocate(req(pod("b"), "u2")).ip != first.ip
        store.close()


def test_cluster_shard_that_restarted_empty_is_detected(redis_cluster: RedisCluster) -> None:
    redis_cluster.flushall()
    marker_node = redis_cluster.node_for("fip:{fip}:marker")
    name = next(
        n
        for n in (f"dc{i}-a" for i in range(50))
        if redis_cluster.node_for(f"fip:{{{n}}}:meta") != marker_node
    )
    sub = subnet(name, ranges=(("10.0.1.10", "10.0.1.13"),))
    store = open_store(redis_cluster.url)
    store.initialise()
    store.put_subnet(sub)
    held = store.allocate(req(pod("a"), "u1", name))
    # the subnet's shard loses everything; the marker lives on another shard and survives
    redis_cluster.command(redis_cluster.node_for(f"fip:{{{name}}}:meta"), "FLUSHALL")
    with pytest.raises(StateLost, match=f'subnet "{name}" is registered but its keys are gone'):
        store.allocate(req(pod("b"), "u2", name))
    with pytest.raises(StateLost, match=f'subnet\\(s\\) "{name}" lost'):
        store.check_intact()
    store.put_subnet(sub)  # controllers re-sync definitions: still refused
    with pytest.raises(StateLost, match="re-created after its shard lost its state"):
        store.allocate(req(pod("b"), "u2", name))
    store.begin_rebuild()
    store.record(_seen("a", str(held.ip), "u1", name))
    store.finish_rebuild()
    store.check_intact()
    assert store.allocate(req(pod("b"), "u2", name)).ip != held.ip
    store.close()


def test_record_rules(backend: Backend) -> None:
    store = backend.store
    store.put_subnet(SMALL)
    seen = store.record(_seen("a", "10.0.1.11", "u1"))
    assert store.get("dc1-a", ip("10.0.1.11")) == seen
    assert store.by_pod("dc1-a", "u1") == seen
    with pytest.raises(NotAllocatable):
        store.record(_seen("b", "10.0.1.1", "u2"))
    with pytest.raises(StaleOperation, match=r'pod UID "u1" already holds IP 10\.0\.1\.11'):
        store.record(_seen("a", "10.0.1.12", "u1"))
    kept = replace(_seen("c", "10.0.1.12", "old-uid"), state=IPState.RESERVED)
    assert store.record(kept).pod_uid == ""
    assert store.record(kept).pod_uid == ""  # idempotent once stripped
    u = store.usage("dc1-a")
    assert (u.allocated, u.reserved) == (1, 1)
    # the cursor skips recorded addresses
    got = [store.allocate(req(pod(f"n{i}"), f"v{i}")).ip for i in range(2)]
    assert got == [ip("10.0.1.10"), ip("10.0.1.13")]


def test_a_restart_that_lost_the_last_writes_hands_no_ip_out_twice() -> None:
    """The case the marker cannot see: the server comes back from a snapshot older than its last
    acknowledged write (an RDB/AOF restart, or a replica promoted before it had everything).
    The marker and the subnet survive, the allocation cursor rolls back, and without the run-id
    check the next allocation would hand out the lost holder's IP again."""
    with RedisServer() as srv:
        store = open_store(srv.url)
        store.initialise()
        store.put_subnet(SMALL)
        a = store.allocate(req(pod("a"), "u1"))
        srv.command("SAVE")  # the snapshot the server comes back from
        b = store.allocate(req(pod("b"), "u2"))  # acknowledged, then lost
        srv.stop(hard=True)
        srv.start()
        assert store.get("dc1-a", a.ip) == a
        assert store.get("dc1-a", b.ip) is None  # the write is gone, but pod b holds the IP
        with pytest.raises(ServerChanged):
            store.allocate(req(pod("c"), "u3"))
        assert store.get("dc1-a", b.ip) is None  # the refusal handed nothing out
        store.begin_rebuild()  # what fip-controllers do: record b from its pod's annotation
        store.record(b)
        store.finish_rebuild()
        c = store.allocate(req(pod("c"), "u3"))
        assert c.ip not in {a.ip, b.ip}
        store.close()
