"""Redis-specific behaviour: deployment forms, errors of an unreachable server, the function
library's life cycle, cluster slot placement, and the lab's process fixtures cleaning up."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_contract_kit import pod, req, subnet

from fip.store.errors import StoreUnavailable
from fip.store.factory import open_store
from fip.store.memory import MemoryStore
from lab.redisproc import RedisCluster, RedisSentinel, RedisServer, free_port, pids_alive


def test_sentinel_url_finds_the_master() -> None:
    with RedisSentinel() as se:
        store = open_store(se.url)
        store.initialise()
        store.put_subnet(subnet())
        assert str(store.allocate(req(pod("a"), "u1")).ip) == "10.0.1.2"
        store.close()


def test_unreachable_server_is_store_unavailable() -> None:
    port = free_port()
    with pytest.raises(StoreUnavailable, match=f"redis at redis://127.0.0.1:{port}/0: cannot reach Redis"):
        open_store(f"redis://127.0.0.1:{port}/0")


def test_wrong_password_is_store_unavailable_without_leaking_it() -> None:
    with RedisServer(password="right-one") as srv:
        with pytest.raises(StoreUnavailable, match="authentication failed") as err:
            open_store(f"redis://:wrong-one@127.0.0.1:{srv.port}/0")
        assert "wrong-one" not in str(err.value)
        store = open_store(srv.url)
        store.initialise()
        store.close()


def test_function_library_is_reloaded_when_deleted(redis_server: RedisServer) -> None:
    redis_server.command("FLUSHALL")
    store = open_store(redis_server.url)
    store.initialise()
    store.put_subnet(subnet())
    store.allocate(req(pod("a"), "u1"))
    redis_server.command("FUNCTION", "DELETE", "fip")
    assert str(store.allocate(req(pod("b"), "u2")).ip) == "10.0.1.3"
    assert redis_server.command("FCALL", "fip_version", 0)
    store.close()


def test_one_subnet_lives_in_one_cluster_slot(redis_cluster: RedisCluster) -> None:
    redis_cluster.flushall()
    store = open_store(redis_cluster.url)
    store.initialise()
    store.put_subnet(subnet("dc1-a"))
    store.allocate(req(pod("a"), "u1"))
    keys: list[str] = []
    for i in range(3):
        reply = redis_cluster.command(i, "KEYS", "fip:{dc1-a}:*")
        assert isinstance(reply, list)
        keys += [str(k) for k in reply]
    assert len(keys) >= 4
    slots = {redis_cluster.command(0, "CLUSTER", "KEYSLOT", k) for k in keys}
    assert len(slots) == 1
    store.close()


def test_memory_urls() -> None:
    assert open_store("memory://shared") is open_store("memory://shared")
    assert open_store("memory://") is not open_store("memory://")
    assert isinstance(open_store("memory://"), MemoryStore)


def test_redis_processes_are_stopped_and_dirs_removed() -> None:
    with RedisServer() as srv:
        assert srv.proc is not None
        pids = [srv.proc.pid]
        tmp = Path(srv.dir)
        assert srv.command("PING") == "PONG"
    assert pids_alive(pids) == []
    assert not tmp.exists()
    with RedisCluster() as cl:
        cpids = [p.pid for p in cl._procs]
        ctmp = Path(cl.dir)
        assert len(cpids) == 3
    assert pids_alive(cpids) == []
    assert not ctmp.exists()
