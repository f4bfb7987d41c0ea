"""Contract: `server_identity` names the server incarnation behind the store. It stays the same
while the server runs (whatever is written or flushed) and changes when the server restarts or a
Sentinel failover promotes a replica: the events after which the controllers rebuild. Until they
have (or an operator vouched for the new server), the store itself refuses to allocate
(`ServerChanged`), so no IP whose record the new server lacks can be handed out twice."""

from __future__ import annotations

import pytest
from conftest import Backend
from store_contract_kit import pod, req, subnet

from fip.store.errors import ServerChanged
from fip.store.factory import open_store
from fip.store.memory import MemoryStore
from lab.redisproc import RedisSentinel, RedisServer, command


def test_identity_is_stable_while_the_server_runs(backend: Backend) -> None:
    store = backend.store
    first = store.server_identity()
    assert first
    store.put_subnet(subnet())
    store.allocate(req(pod("a"), "u1"))
    assert store.server_identity() == first
    if backend.name != "memory":  # FLUSHALL empties the server but it is the same process
        backend.lose()
        assert store.server_identity() == first


def test_cluster_identity_names_every_primary(backend: Backend) -> None:
    if backend.name == "cluster":
        assert len(backend.store.server_identity().split(",")) == 3


def test_memory_store_that_lost_its_state_is_a_new_incarnation() -> None:
    mem = MemoryStore()
    before = mem.server_identity()
    mem.lose_state()
    assert mem.server_identity() != before


def test_restart_changes_identity_even_with_persistence() -> None:
    with RedisServer(appendonly=True) as srv:
        store = open_store(srv.url)
        store.initialise()
        before = store.server_identity()
        srv.restart()
        store.check_intact()  # the data survived (AOF) ...
        assert store.server_identity() != before  # ... but the last second of writes may not have
        store.close()


def test_sentinel_failover_changes_identity() -> None:
    with RedisSentinel(replicas=1) as se:
        store = open_store(se.url)
        store.initialise()
        store.put_subnet(subnet())
        held = store.allocate(req(pod("a"), "u1"))
        before = store.server_identity()
        assert command(se.master_port, "WAIT", 1, 5000) == 1  # the replica has every write
        se.failover()
        assert store.server_identity() != before
        # the promoted replica serves the replicated state, but allocates nothing until the
        # state is vouched for: it could lack writes acknowledged by the old master
        assert store.get("dc1-a", held.ip) == held
        with pytest.raises(ServerChanged, match='subnet "dc1-a" restarted or failed over'):
            store.allocate(req(pod("b"), "u2"))
        with pytest.raises(ServerChanged):
            store.check_intact()
        with pytest.raises(ServerChanged):  # not even a retry: the lost writes may have freed it
            store.allocate(req(pod("a"), "u1"))
        store.begin_rebuild()
        store.finish_rebuild()
        store.check_intact()
        assert store.allocate(req(pod("b"), "u2")).ip != held.ip
        store.close()


def test_memory_store_restart_refuses_to_allocate_until_verified() -> None:
    mem = MemoryStore()
    mem.initialise()
    mem.put_subnet(subnet())
    mem.allocate(req(pod("a"), "u1"))
    mem.restart()
    with pytest.raises(ServerChanged):
        mem.allocate(req(pod("b"), "u2"))
    with pytest.raises(ServerChanged):
        mem.check_intact()
    mem.begin_rebuild()
    mem.finish_rebuild()
    mem.check_intact()
    mem.allocate(req(pod("b"), "u2"))


def test_verified_identity_is_recorded_by_finish_rebuild(backend: Backend) -> None:
    store = backend.store
    assert store.verified_identity() == store.server_identity()  # written by initialise
    store.begin_rebuild()
    store.finish_rebuild()
    assert store.verified_identity() == store.server_identity()
    backend.lose()
    assert store.verified_identity() == ""


def test_restart_leaves_the_old_verified_identity() -> None:
    with RedisServer(appendonly=True) as srv:
        store = open_store(srv.url)
        store.initialise()
        verified = store.verified_identity()
        srv.restart()
        assert store.verified_identity() == verified != store.server_identity()
        store.begin_rebuild()
        store.finish_rebuild()
        assert store.verified_identity() == store.server_identity()
        store.close()
    mem = MemoryStore()
    mem.initialise()
    mem.restart()
    assert mem.verified_identity() != mem.server_identity()
