"""The in-memory store: the same algorithm and refusals as the Redis store, in one process.

Used by unit tests, the lab and benchmarks (`memory://`). It passes the same contract suite as
`RedisStore` (tests/contract). Thread-safe (one lock). A new MemoryStore is like a new empty
Redis: allocation is refused until `initialise()` (first setup) or a finished rebuild.
`lose_state()` simulates a Redis that restarted empty, for tests.

Allocation walks a cursor over `Subnet.allocatable()` intervals handing out never-used
addresses in order, then reuses released ones: O(1) per call whatever the subnet size.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from fip.core.owner import OwnerKey
from fip.core.record import AllocationRecord, IPState, Usage
from fip.core.subnet import IPAddress, Pool, Subnet
from fip.store import refusals
from fip.store.errors import StoreError, StoreUnavailable
from fip.store.protocol import AllocateRequest, check_pool, check_request

WHERE = "memory store"


@dataclass
class _Space:
    """One subnet's allocation state."""

    subnet: Subnet
    ivals: tuple[tuple[int, int], ...]
    total: int
    enabled: bool
    ci: int = 0
    co: int = 0
    recycled: set[int] = field(default_factory=set)
    records: dict[int, AllocationRecord] = field(default_factory=dict)
    by_uid: dict[str, int] = field(default_factory=dict)
    owner_reserved: dict[OwnerKey, set[int]] = field(default_factory=dict)
    pools: dict[str, Pool] = field(default_factory=dict)
    pool_used: dict[str, int] = field(default_factory=dict)
    allocated: int = 0
    reserved: int = 0

    def usage(self) -> Usage:
        return Usage(self.subnet.name, self.total, self.allocated, self.reserved)

    def reset_cursor(self) -> None:
        self.ivals = self.subnet.allocatable()
        self.total = self.subnet.total()
        self.ci = self.co = 0
        self.recycled.clear()

    def next_fresh(self) -> int | None:
        while self.ci < len(self.ivals):
            a, b = self.ivals[self.ci]
            n = a + self.co
            if n > b:
                self.ci, self.co = self.ci + 1, 0
                continue
            self.co += 1
            if n not in self.records:
                self.recycled.discard(n)
                return n
        return None

    def next_recycled(self) -> int | None:
        while self.recycled:
            n = self.recycled.pop()  # any member, O(1), like SPOP
            if n not in self.records:
                return n
        return None

    def put(self, n: int, rec: AllocationRecord) -> None:
        """Write a record, keeping indexes and counters in step with the previous one."""
        self.drop(n)
        self.records[n] = rec
        if rec.pod_uid:
            self.by_uid[rec.pod_uid] = n
        if rec.state == IPState.RESERVED:
            self.owner_reserved.setdefault(rec.owner, set()).add(n)
            self.reserved += 1
        else:
            self.allocated += 1
        if rec.pool:
            self.pool_used[rec.pool] = self.pool_used.get(rec.pool, 0) + 1

    def drop(self, n: int) -> AllocationRecord | None:
        rec = self.records.pop(n, None)
        if rec is None:
            return None
        if rec.pod_uid and self.by_uid.get(rec.pod_uid) == n:
            del self.by_uid[rec.pod_uid]
        if rec.state == IPState.RESERVED:
            self.owner_reserved.get(rec.owner, set()).discard(n)
            if not self.owner_reserved.get(rec.owner):
                self.owner_reserved.pop(rec.owner, None)
            self.reserved -= 1
        else:
            self.allocated -= 1
        if rec.pool:
            self.pool_used[rec.pool] -= 1
        return rec

    def free(self, n: int) -> AllocationRecord | None:
        rec = self.drop(n)
        if rec is not None and self.subnet.address(n) not in self.subnet.reserved:
            self.recycled.add(n)
        return rec


class MemoryStore:
    """`Store` in one process. See the module docstring."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._spaces: dict[str, _Space] = {}
        self._pool_subnet: dict[str, str] = {}
        self._initialised = False
        self._rebuilding = False
        self._incarnation = secrets.token_hex(8)
        self._verified = ""

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            yield

    def _space(self, name: str) -> _Space:
        sp = self._spaces.get(name)
        if sp is None:
            raise refusals.unknown_subnet(name)
        return sp

    def close(self) -> None:
        pass

    # --- definitions -------------------------------------------------------------------
    def put_subnet(self, subnet: Subnet) -> None:
        with self._locked():
            sp = self._spaces.get(subnet.name)
            if sp is None:
                enabled = self._initialised and not self._rebuilding
                ivals = subnet.allocatable()
                self._spaces[subnet.name] = _Space(subnet, ivals, subnet.total(), enabled)
                return
            if sp.subnet == subnet:
                return
            orphans = [n for n in sorted(sp.records) if not subnet.requestable(sp.subnet.address(n))]
            if orphans:
                shown = [str(sp.subnet.address(n)) for n in orphans[:5]]
                raise refusals.subnet_in_use(subnet.name, shown, len(orphans), "this change")
            sp.subnet = subnet
            sp.reset_cursor()

    def delete_subnet(self, name: str) -> None:
        with self._locked():
            sp = self._spaces.get(name)
            if sp is None:
                return
            if sp.records:
                shown = [str(sp.subnet.address(n)) for n in sorted(sp.records)[:5]]
                raise refusals.subnet_in_use(name, shown, len(sp.records), "deleting it")
            del self._spaces[name]
            for pool in sp.pools:
                self._pool_subnet.pop(pool, None)

    def subnets(self) -> list[Subnet]:
        with self._locked():
            return [self._spaces[n].subnet for n in sorted(self._spaces)]

    def put_pool(self, pool: Pool) -> None:
        check_pool(pool)
        with self._locked():
            sp = self._space(pool.subnet)
            old = self._pool_subnet.get(pool.name)
            if old is not None and old != pool.subnet and old in self._spaces:
                self._spaces[old].pools.pop(pool.name, None)
            sp.pools[pool.name] = pool
            self._pool_subnet[pool.name] = pool.subnet

    def delete_pool(self, name: str) -> None:
        with self._locked():
            subnet = self._pool_subnet.pop(name, None)
            if subnet is not None and subnet in self._spaces:
                self._spaces[subnet].pools.pop(name, None)

    def pools(self) -> list[Pool]:
        with self._locked():
            return sorted(
                (p for sp in self._spaces.values() for p in sp.pools.values()), key=lambda p: p.name
            )

    # --- allocation ----------------------------------------------------------------------
    def _open_space(self, name: str) -> _Space:
        """The subnet's state if allocation is allowed there (StateLost / UnknownSubnet)."""
        sp = self._spaces.get(name)
        if sp is None:
            if not self._initialised:
                raise refusals.state_lost(WHERE, "never initialised or state wiped")
            raise refusals.unknown_subnet(name)
        if not sp.enabled or not self._initialised:
            if self._rebuilding:
                raise refusals.rebuilding(WHERE)
            raise refusals.state_lost(WHERE, "marker missing")
        if self._verified != self._incarnation:
            raise refusals.server_changed(WHERE, "the store restarted")
        return sp

    @staticmethod
    def _pool(sp: _Space, req: AllocateRequest) -> Pool | None:
        if not req.pool:
            return None
        pool = sp.pools.get(req.pool)
        if pool is None:
            raise refusals.unknown_pool(req.pool, req.subnet)
        if not pool.allows(req.owner.namespace):
            raise refusals.pool_forbidden(req.pool, req.owner.namespace, pool.namespaces)
        return pool

    @staticmethod
    def _pick(sp: _Space, req: AllocateRequest) -> int:
        """A requested (validated, not held) or a free address; refuses without changing records."""
        if req.requested is not None:
            ip = req.requested
            if not sp.subnet.requestable(ip):
                raise refusals.not_allocatable(req.subnet, ip)
            if int(ip) in sp.records:
                raise refusals.taken(req.subnet, ip, sp.records[int(ip)])
            sp.recycled.discard(int(ip))
            return int(ip)
        got = sp.next_fresh()
        if got is None:
            got = sp.next_recycled()
        if got is None:
            raise refusals.no_free(sp.usage())
        return got

    def allocate(self, req: AllocateRequest) -> AllocationRecord:
        check_request(req)
        with self._locked():
            sp = self._open_space(req.subnet)
            held = sp.by_uid.get(req.pod_uid)
            if held is not None:
                rec = sp.records[held]
                if rec.owner != req.owner:
                    raise refusals.uid_elsewhere(req.subnet, req.pod_uid, rec)
                return rec
            pool = self._pool(sp, req)
            mine = sp.owner_reserved.get(req.owner)
            if mine:
                want = int(req.requested) if req.requested is not None else -1
                n = want if want in mine else min(mine)
                rec = replace(
                    sp.records[n],
                    state=IPState.ALLOCATED,
                    pod_uid=req.pod_uid,
                    pod_name=req.pod_name,
                    node=req.node,
                    policy=req.policy,
                    updated_at=req.now,
                )
                sp.put(n, rec)
                return rec
            if pool is not None and sp.pool_used.get(pool.name, 0) >= pool.size:
                raise refusals.pool_full(pool.name, req.subnet, sp.pool_used.get(pool.name, 0), pool.size)
            n = self._pick(sp, req)
            rec = AllocationRecord(
                ip=sp.subnet.address(n),
                subnet=req.subnet,
                owner=req.owner,
                state=IPState.ALLOCATED,
                policy=req.policy,
                pod_name=req.pod_name,
                pod_uid=req.pod_uid,
                node=req.node,
                pool=req.pool,
                created_at=req.now,
                updated_at=req.now,
            )
            sp.put(n, rec)
            return rec

    def bind(self, subnet: str, ip: IPAddress, pod_uid: str, node: str, now: float) -> AllocationRecord:
        with self._locked():
            sp = self._space(subnet)
            n = int(ip)
            rec = sp.records.get(n)
            if rec is None or rec.pod_uid != pod_uid or not pod_uid:
                raise refusals.stale("bind", subnet, ip, owner=None, uid=pod_uid, holder=rec)
            if rec.state == IPState.BOUND and rec.node == node:
                return rec
            new = replace(rec, state=IPState.BOUND, node=node, updated_at=now)
            sp.put(n, new)
            return new

    def reserve(
        self, subnet: str, ip: IPAddress, owner: OwnerKey, expected_uid: str, now: float
    ) -> AllocationRecord:
        with self._locked():
            sp = self._space(subnet)
            n = int(ip)
            rec = sp.records.get(n)
            if rec is None or rec.owner != owner:
                raise refusals.stale("reserve", subnet, ip, owner=owner, uid=expected_uid, holder=rec)
            if rec.state == IPState.RESERVED:
                return rec
            if rec.pod_uid != expected_uid:
                raise refusals.stale("reserve", subnet, ip, owner=owner, uid=expected_uid, holder=rec)
            new = replace(rec, state=IPState.RESERVED, pod_uid="", node="", updated_at=now)
            sp.put(n, new)
            return new

    def release(
        self, subnet: str, ip: IPAddress, owner: OwnerKey, expected_uid: str, now: float
    ) -> AllocationRecord | None:
        with self._locked():
            sp = self._space(subnet)
            n = int(ip)
            rec = sp.records.get(n)
            if rec is None:
                return None
            if rec.owner != owner or rec.pod_uid != expected_uid:
                raise refusals.stale("release", subnet, ip, owner=owner, uid=expected_uid, holder=rec)
            return sp.free(n)

    def force_release(self, subnet: str, ip: IPAddress) -> AllocationRecord | None:
        with self._locked():
            return self._space(subnet).free(int(ip))

    def record(self, rec: AllocationRecord) -> AllocationRecord:
        with self._locked():
            sp = self._space(rec.subnet)
            if rec.state == IPState.RESERVED and rec.pod_uid:
                rec = replace(rec, pod_uid="")
            if not sp.subnet.requestable(rec.ip):
                raise refusals.not_allocatable(rec.subnet, rec.ip)
            n = int(rec.ip)
            old = sp.records.get(n)
            if old is not None and (old.owner != rec.owner or old.pod_uid != rec.pod_uid):
                raise refusals.taken(rec.subnet, rec.ip, old)
            if rec.pod_uid:
                other = sp.by_uid.get(rec.pod_uid)
                if other is not None and other != n:
                    raise refusals.uid_elsewhere(rec.subnet, rec.pod_uid, sp.records[other])
            sp.recycled.discard(n)
            sp.put(n, rec)
            return rec

    def record_many(self, recs: Sequence[AllocationRecord]) -> list[AllocationRecord | StoreError]:
        out: list[AllocationRecord | StoreError] = []
        for rec in recs:
            try:
                out.append(self.record(rec))
            except StoreUnavailable:
                raise
            except StoreError as err:
                out.append(err)
        return out

    # --- reads ---------------------------------------------------------------------------
    def get(self, subnet: str, ip: IPAddress) -> AllocationRecord | None:
        with self._locked():
            return self._space(subnet).records.get(int(ip))

    def by_subnet(self, subnet: str) -> list[AllocationRecord]:
        with self._locked():
            sp = self._space(subnet)
            return [sp.records[n] for n in sorted(sp.records)]

    def by_owner(self, owner: OwnerKey) -> list[AllocationRecord]:
        with self._locked():
            out = []
            for name in sorted(self._spaces):
                sp = self._spaces[name]
                for n in sorted(sp.records):
                    r = sp.records[n]
                    if r.owner == owner or (owner.instance is None and r.owner.workload() == owner):
                        out.append(r)
            return out

    def by_pod(self, subnet: str, pod_uid: str) -> AllocationRecord | None:
        with self._locked():
            sp = self._space(subnet)
            n = sp.by_uid.get(pod_uid)
            return None if n is None else sp.records[n]

    def usage(self, subnet: str) -> Usage:
        with self._locked():
            return self._space(subnet).usage()

    # --- loss detection --------------------------------------------------------------------
    def initialise(self) -> None:
        with self._locked():
            if self._initialised:
                return
        self.finish_rebuild()

    def server_identity(self) -> str:
        with self._locked():
            return self._incarnation

    def verified_identity(self) -> str:
        with self._locked():
            return self._verified

    def check_intact(self) -> None:
        with self._locked():
            if self._rebuilding:
                raise refusals.rebuilding(WHERE)
            if not self._initialised:
                raise refusals.state_lost(WHERE, "marker missing")
            lost = sorted(n for n, sp in self._spaces.items() if not sp.enabled)
            changed = self._verified != self._incarnation
        if lost:
            names = ", ".join(f'"{n}"' for n in lost[:5])
            raise refusals.state_lost(WHERE, f"subnet(s) {names} lost their keys or allocation state")
        if changed:
            raise refusals.server_changed(WHERE, "the store restarted")

    def begin_rebuild(self) -> None:
        with self._locked():
            self._rebuilding = True
            for sp in self._spaces.values():
                sp.enabled = False

    def finish_rebuild(self) -> None:
        with self._locked():
            for sp in self._spaces.values():
                sp.enabled = True
            self._initialised = True
            self._rebuilding = False
            self._verified = self._incarnation

    def lose_state(self) -> None:
        """Test hook: forget everything, like a Redis that restarted empty (new identity)."""
        with self._locked():
            self._spaces.clear()
            self._pool_subnet.clear()
            self._initialised = False
            self._rebuilding = False
            self._incarnation = secrets.token_hex(8)
            self._verified = ""

    def restart(self) -> None:
        """Test hook: a new incarnation that kept its data (a Redis restarted from its AOF, or a
        promoted replica that had every write): only the identity changes."""
        with self._locked():
            self._incarnation = secrets.token_hex(8)
