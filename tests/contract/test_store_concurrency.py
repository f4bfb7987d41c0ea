"""Contract: concurrent allocators sharing one store never hand out an IP twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from store_contract_kit import pod, req, subnet

from fip.core.subnet import IPAddress, Pool
from fip.store.errors import NoFreeIP, PoolFull, StoreError, UnknownSubnet
from fip.store.protocol import Store


def race(
    workers: int, tries: int, attempt: Callable[[int, int], IPAddress], refusal: type[StoreError]
) -> tuple[list[IPAddress], list[StoreError]]:
    """Run `attempt(worker, try)` from `workers` threads at once, `tries` times each; return the
    IPs handed out and the `refusal`s raised. Any other exception stays in its thread (and shows
    up as a shortfall in the IPs)."""
    got: list[IPAddress] = []
    refused: list[StoreError] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        for i in range(tries):
            try:
                ip = attempt(w, i)
            except refusal as e:
                with lock:
                    refused.append(e)
                continue
            with lock:
                got.append(ip)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got, refused


def test_threads_racing_for_a_small_subnet_get_distinct_ips(store: Store) -> None:
    store.put_subnet(subnet(ranges=(("10.0.1.10", "10.0.1.69"),)))  # 60 addresses

    def allocate_twice(w: int, i: int) -> IPAddress:
        uid = f"w{w}-{i}"
        rec = store.allocate(req(pod(f"p{w}-{i}"), uid))
        again = store.allocate(req(pod(f"p{w}-{i}"), uid))  # retry: same IP
        assert again.ip == rec.ip
        return rec.ip

    got, refused = race(4, 20, allocate_twice, NoFreeIP)
    assert len(got) == len(set(got)) == 60
    assert len(refused) == 20
    u = store.usage("dc1-a")
    assert (u.allocated, u.free) == (60, 0)


def test_pool_cap_holds_under_concurrency(store: Store) -> None:
    store.put_subnet(subnet())
    store.put_pool(Pool("p", "dc1-a", 7, frozenset({"default"})))

    def allocate_from_pool(w: int, i: int) -> IPAddress:
        return store.allocate(req(pod(f"p{w}-{i}"), f"w{w}-{i}", pool="p")).ip

    ok, full = race(3, 5, allocate_from_pool, PoolFull)
    assert len(ok) == len(set(ok)) == 7
    assert len(full) == 8


def test_pool_in_unknown_subnet_is_refused(store: Store) -> None:
    with pytest.raises(UnknownSubnet):
        store.put_pool(Pool("p", "nope", 1, frozenset({"default"})))
    assert store.pools() == []
