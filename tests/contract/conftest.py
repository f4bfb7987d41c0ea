"""Store contract fixtures: the same tests run against the in-memory store, a real standalone
Redis and a real 3-master Redis Cluster (started once per session on free loopback ports).

`backend` yields a `Backend`: a fresh, initialised store plus `lose()`, which wipes the
backing state the way a Redis restart without persistence does (FLUSHALL; the function library
survives FLUSHALL, a restart test covers its loss).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from fip.store.factory import open_store
from fip.store.memory import MemoryStore
from fip.store.protocol import Store
from lab.redisproc import RedisCluster, RedisServer

BACKENDS = ["memory", "redis", "cluster"]


@dataclass
class Backend:
    name: str
    store: Store
    lose: Callable[[], None]
    url: str


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    with RedisCluster() as cl:
        yield cl


def make_backend(name: str, request: pytest.FixtureRequest) -> Backend:
    if name == "memory":
        mem = MemoryStore()
        return Backend("memory", mem, mem.lose_state, "memory://")
    if name == "redis":
        srv: RedisServer = request.getfixturevalue("redis_server")
        srv.command("FLUSHALL")
        return Backend("redis", open_store(srv.url), lambda: srv.command("FLUSHALL") and None, srv.url)
    cl: RedisCluster = request.getfixturevalue("redis_cluster")
    cl.flushall()
    return Backend("cluster", open_store(cl.url), cl.flushall, cl.url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    b = make_backend(request.param, request)
    b.store.initialise()
    yield b
    b.store.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.store
