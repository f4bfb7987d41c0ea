"""Allocation stores: the `Store` protocol, an in-memory store and the Redis store.

The in-memory store and the Redis store pass the same contract suite (`tests/contract/`), so
the fake cannot drift from the real thing.
"""
