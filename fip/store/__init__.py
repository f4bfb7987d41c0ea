"""Allocation stores: the `Store` protocol, an in-memory store and the Redis store.

    from fip.store.factory import open_store
    store = open_store(url)        # memory://[name], redis://, rediss://, redis+cluster://, redis+sentinel://
    store.initialise()             # first setup of a new deployment only (writes the loss marker)
    store.put_subnet(subnet); store.put_pool(pool)
    rec = store.allocate(AllocateRequest(...))   # one atomic step; idempotent per pod UID
    store.bind(...) / store.reserve(...) / store.release(...) / store.force_release(...)

Modules: `protocol` (Store, AllocateRequest), `errors` (the exception tree), `url` (the strict URL
parser), `factory` (open_store), `memory` (MemoryStore), `redis_store` + `functions.lua` (the
Redis store and its Redis Functions), `encoding` (how records and subnets are written in Redis),
`refusals` (the human messages every store raises).

The in-memory store and the Redis store pass the same contract suite (`tests/contract/`), so
the fake cannot drift from the real thing.
"""
