"""`open_store(url)`: the one way deployables get a `Store` from a URL (see `fip.store.url`).

The Redis store is imported lazily, so `memory://` users (unit tests, the lab) never load redis.
"""

from __future__ import annotations

from fip.store.memory import MemoryStore
from fip.store.protocol import Store
from fip.store.url import parse_store_url

_MEMORY: dict[str, MemoryStore] = {}


def open_store(url: str, field: str = "redis-url") -> Store:
    """Open the store named by `url`; raises InvalidInput for a bad URL, StoreUnavailable when
    the server cannot be reached. `memory://NAME` returns the same in-process store per NAME
    (`memory://` alone always a new one)."""
    parsed = parse_store_url(url, field)
    if parsed.scheme == "memory":
        if not parsed.name:
            return MemoryStore()
        return _MEMORY.setdefault(parsed.name, MemoryStore(parsed.name))
    from fip.store.redis_store import RedisStore

    return RedisStore(parsed)
