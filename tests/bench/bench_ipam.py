"""IPAM store benchmark: `fip-lab bench ipam [--json PATH]`.

Runs against a real redis-server started for the run (lab.redisproc, loopback, no
persistence) and measures, side by side in one run:

    alloc_vs_raw_ratio  allocate+release pairs/s through the store divided by raw SET+DEL
                        pairs/s on the same connection: the share of the client+Redis limit the
                        store reaches. Target >= 0.3.
    flatness_ratio      time per allocation in a subnet of 2**20 addresses divided by the time
                        in one of 2**10. Target <= 1.2 (allocation must not walk addresses).
                        Measured in steady state (the small subnet reusing released addresses)
                        and fresh (both handing out never-used ones); the larger ratio counts.
    duplicates          10 processes (own connection each) make 100,000 allocations in one
                        subnet; the number of IPs handed to two owners, counting both what the
                        clients received and what Redis recorded. Target 0.

Machines are noisy: the measurements alternate in several rounds and the ratios are ratios of
medians. Every figure is printed with its target; `targets_met` is 1.0 only if all three pass.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.spec import parse_subnet
from fip.core.subnet import Subnet
from fip.store.factory import open_store
from fip.store.protocol import AllocateRequest, Store
from lab.redisproc import RedisServer

TARGET_RATIO = 0.3
TARGET_FLATNESS = 1.2
TARGET_DUPLICATES = 0

PAIR_ROUNDS, PAIRS_PER_ROUND = 15, 1000
FLAT_ROUNDS, FLAT_FRESH_ROUNDS, FLAT_ALLOCS = 25, 25, 64
DUP_WORKERS, DUP_TOTAL = 10, 100_000


def subnet(name: str, cidr: str, first: str, last: str) -> Subnet:
    """A subnet whose allocatable addresses are exactly first..last (none is network,
    broadcast or gateway, so the count is last - first + 1)."""
    gateway = cidr.split("/", maxsplit=1)[0].rsplit(".", 1)[0] + ".1"
    return parse_subnet(
        {
            "apiVersion": "fip.io/v1",
            "kind": "Subnet",
            "metadata": {"name": name},
            "spec": {
                "cidr": cidr,
                "gateway": gateway,
                "ranges": [f"{first}-{last}"],
                "nodeSelector": {"matchLabels": {"fip.io/l2": name}},
            },
        }
    )


# 2**10 and 2**20 allocatable addresses; the pairs subnet is 2**16.
SMALL = subnet("bench-1k", "10.64.0.0/21", "10.64.1.0", "10.64.4.255")
BIG = subnet("bench-1m", "10.128.0.0/11", "10.129.0.0", "10.144.255.255")
PAIRS = subnet("bench-pairs", "10.32.0.0/15", "10.32.1.0", "10.33.0.255")


def requests(sub: str, prefix: str, n: int) -> list[AllocateRequest]:
    now = time.time()
    return [
        AllocateRequest(
            subnet=sub,
            owner=OwnerKey.of("bench", "Pod", f"{prefix}-{i}"),
            pod_uid=f"uid-{prefix}-{i}",
            pod_name=f"{prefix}-{i}",
            node="node-1",
            policy=ReleasePolicy.POD,
            now=now,
        )
        for i in range(n)
    ]


def time_pairs(store: Store, reqs: Sequence[AllocateRequest]) -> float:
    """Seconds for allocate+release of every request, one after the other."""
    t0 = time.perf_counter()
    for req in reqs:
        rec = store.allocate(req)
        store.release(req.subnet, rec.ip, req.owner, req.pod_uid, req.now)
    return time.perf_counter() - t0


def time_raw(raw: Any, n: int) -> float:
    """Seconds for n SET+DEL pairs on the raw client (one round trip each, as the store's
    operations are at best)."""
    keys = [f"fip-bench:raw:{i}" for i in range(n)]
    value = "bench/Pod/p-0 uid-p-0 node-1"
    t0 = time.perf_counter()
    for key in keys:
        raw.set(key, value)
        raw.delete(key)
    return time.perf_counter() - t0


def raw_client(store: Store, url: str) -> Any:
    """The redis client the store itself talks through, so both sides share connection,
    parser (hiredis) and settings; a client from the same URL if the store hides it."""
    for attr in ("client", "redis", "_client", "_redis", "_r"):
        client = getattr(store, attr, None)
        if client is not None and hasattr(client, "set") and hasattr(client, "delete"):
            return client
    import redis  # tests/ may import redis; fip itself keeps it in fip.store.redis_store

    return redis.Redis.from_url(url)


def measure_ratio(store: Store, raw: Any) -> dict[str, float]:
    raw_rates: list[float] = []
    store_rates: list[float] = []
    for r in range(PAIR_ROUNDS):
        reqs = requests(PAIRS.name, f"pair{r}", PAIRS_PER_ROUND)
        for side in ("raw", "store") if r % 2 == 0 else ("store", "raw"):
            if side == "raw":
                raw_rates.append(PAIRS_PER_ROUND / time_raw(raw, PAIRS_PER_ROUND))
            else:
                store_rates.append(PAIRS_PER_ROUND / time_pairs(store, reqs))
    raw_med, store_med = statistics.median(raw_rates), statistics.median(store_rates)
    return {
        "alloc_vs_raw_ratio": round(store_med / raw_med, 4),
        "raw_set_del_pairs_per_s": round(raw_med, 1),
        "store_alloc_release_pairs_per_s": round(store_med, 1),
    }


def time_allocs(store: Store, sub: Subnet, prefix: str) -> float:
    """Seconds per allocation for FLAT_ALLOCS allocations (released afterwards, untimed)."""
    reqs = requests(sub.name, prefix, FLAT_ALLOCS)
    t0 = time.perf_counter()
    recs = [store.allocate(req) for req in reqs]
    elapsed = time.perf_counter() - t0
    for req, rec in zip(reqs, recs, strict=True):
        store.release(sub.name, rec.ip, req.owner, req.pod_uid, req.now)
    return elapsed / FLAT_ALLOCS


def flatness(store: Store, rounds: int, fresh: bool) -> tuple[float, float, float]:
    """(median per-round ratio big/small, median seconds per allocation at 2**10, at 2**20).

    Each round times small, big, big, small (ABBA, so a drift in machine load within the round
    cancels out) and yields one ratio; the median over rounds resists load bursts from other
    processes, which last longer than one round.

    Steady state (`fresh=False`): the subnets keep their history, so the small one soon works
    from released addresses while the big one still hands out never-used ones. Fresh: both
    subnets are re-created (untimed) before each round, so both take never-used addresses.
    """
    ratios: list[float] = []
    small: list[float] = []
    big: list[float] = []
    for r in range(rounds):
        if fresh:
            for sub in (SMALL, BIG):
                store.delete_subnet(sub.name)
                store.put_subnet(sub)
        s1 = time_allocs(store, SMALL, f"flat{int(fresh)}-{r}-a")
        b1 = time_allocs(store, BIG, f"flat{int(fresh)}-{r}-b")
        b2 = time_allocs(store, BIG, f"flat{int(fresh)}-{r}-c")
        s2 = time_allocs(store, SMALL, f"flat{int(fresh)}-{r}-d")
        ratios.append((b1 + b2) / (s1 + s2))
        small += [s1, s2]
        big += [b1, b2]
    return statistics.median(ratios), statistics.median(small), statistics.median(big)


def measure_flatness(store: Store) -> dict[str, float]:
    steady, steady_small, steady_big = flatness(store, FLAT_ROUNDS, fresh=False)
    fresh, fresh_small, fresh_big = flatness(store, FLAT_FRESH_ROUNDS, fresh=True)
    return {
        "flatness_ratio": round(max(steady, fresh), 4),
        "flatness_ratio_steady": round(steady, 4),
        "flatness_ratio_fresh": round(fresh, 4),
        "alloc_us_at_2e10": round(steady_small * 1e6, 1),
        "alloc_us_at_2e20": round(steady_big * 1e6, 1),
        "alloc_us_at_2e10_fresh": round(fresh_small * 1e6, 1),
        "alloc_us_at_2e20_fresh": round(fresh_big * 1e6, 1),
    }


def dup_worker(args: tuple[str, str, int, int]) -> tuple[list[tuple[str, str]], int]:
    """One client process: its own store connection, `count` allocations with distinct owners.
    Returns the (ip, owner) pairs it was handed and how many allocations failed."""
    url, sub, wid, count = args
    store = open_store(url)
    got: list[tuple[str, str]] = []
    errors = 0
    for req in requests(sub, f"w{wid}", count):
        try:
            rec = store.allocate(req)
        except Exception:
            errors += 1
            continue
        got.append((str(rec.ip), req.owner.encode()))
    return got, errors


def count_duplicates(
    handed: Sequence[Sequence[tuple[str, str]]], recorded: dict[str, str]
) -> tuple[int, int]:
    """(IPs with two or more owners among what clients received and what Redis records,
    received IPs with no record)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for got in handed:
        for ip, owner in got:
            owners[ip].add(owner)
    missing = sum(1 for ip in owners if ip not in recorded)
    for ip, owner in recorded.items():
        owners[ip].add(owner)
    return sum(1 for held in owners.values() if len(held) > 1), missing


# The detector must be able to see what it is looking for.
assert count_duplicates([[("10.0.0.1", "a")], [("10.0.0.1", "b")]], {}) == (1, 1)
assert count_duplicates([[("10.0.0.1", "a")]], {"10.0.0.1": "b"}) == (1, 0)
assert count_duplicates([[("10.0.0.1", "a")]], {"10.0.0.1": "a", "10.0.0.2": "c"}) == (0, 0)


def measure_duplicates(store: Store, url: str) -> dict[str, float]:
    per = DUP_TOTAL // DUP_WORKERS
    ctx = multiprocessing.get_context("fork")
    t0 = time.perf_counter()
    with ctx.Pool(DUP_WORKERS) as pool:
        results = pool.map(dup_worker, [(url, BIG.name, w, per) for w in range(DUP_WORKERS)])
    elapsed = time.perf_counter() - t0
    errors = sum(errs for _, errs in results)
    handed = sum(len(got) for got, _ in results)
    recorded = {str(rec.ip): rec.owner.encode() for rec in store.by_subnet(BIG.name)}
    duplicates, missing = count_duplicates([got for got, _ in results], recorded)
    return {
        "duplicates": duplicates,
        "dup_allocations_handed": handed,
        "dup_allocation_errors": errors,
        "dup_records_in_redis": len(recorded),
        "dup_handed_but_not_recorded": missing,
        "dup_allocations_per_s": round(handed / elapsed, 1),
    }


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    redis_v = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False)
    version = next((w for w in redis_v.stdout.split() if w.startswith("v=")), "v=?")[2:]
    py = platform.python_version()
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python {py}, redis {version}"


def report(fig: dict[str, float]) -> str:
    checks = [
        ("alloc_vs_raw_ratio", f">= {TARGET_RATIO}", fig["alloc_vs_raw_ratio"] >= TARGET_RATIO),
        ("flatness_ratio", f"<= {TARGET_FLATNESS}", fig["flatness_ratio"] <= TARGET_FLATNESS),
        ("duplicates", f"== {TARGET_DUPLICATES}", fig["duplicates"] == TARGET_DUPLICATES),
        # every allocation must have happened, or the duplicate count proves less than it says
        ("dup_allocation_errors", "== 0", fig["dup_allocation_errors"] == 0),
    ]
    lines = [f"{'FIGURE':<22} {'VALUE':>10}   {'TARGET':<8} RESULT"]
    lines += [f"{k:<22} {fig[k]:>10g}   {t:<8} {'PASS' if ok else 'FAIL'}" for k, t, ok in checks]
    lines += ["", "details:"]
    lines += [f"  {k:<34} {v:g}" for k, v in fig.items() if k not in {c[0] for c in checks}]
    fig["targets_met"] = 1.0 if all(ok for *_, ok in checks) else 0.0
    return "\n".join(lines)


def run(json_path: str | None) -> dict[str, float]:
    print(f"bench ipam on {machine()}", flush=True)
    with RedisServer() as server:
        store = open_store(server.url)
        store.initialise()  # a fresh Redis looks like a lost one until declared new
        for sub in (PAIRS, SMALL, BIG):
            store.put_subnet(sub)
        raw = raw_client(store, server.url)
        fig: dict[str, float] = {}
        t0 = time.perf_counter()
        print(f"alloc vs raw: {PAIR_ROUNDS} alternating rounds of {PAIRS_PER_ROUND} pairs ...", flush=True)
        fig.update(measure_ratio(store, raw))
        print(
            f"flatness: {FLAT_ROUNDS} steady + {FLAT_FRESH_ROUNDS} fresh rounds of 4 x {FLAT_ALLOCS} "
            "allocations (2**10, 2**20, 2**20, 2**10) ...",
            flush=True,
        )
        fig.update(measure_flatness(store))
        print(f"duplicates: {DUP_WORKERS} processes, {DUP_TOTAL} allocations in {BIG.name} ...", flush=True)
        fig.update(measure_duplicates(store, server.url))
        fig["bench_seconds"] = round(time.perf_counter() - t0, 1)
    print(report(fig))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(fig, f, indent=2)
            f.write("\n")
        print(f"figures written to {json_path}")
    return fig
