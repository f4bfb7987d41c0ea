"""Contract, stateful: random allocate / bind / reserve / release / retry sequences against a model.

Invariants after every step: the store's records equal the model's (so a refused operation
changed nothing and no IP has two owners), usage counts add up (free + allocated + reserved =
total), each pod UID holds at most one IP, a pool never holds more than its size, and a retried
allocate returns the same IP.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import make_backend
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from store_contract_kit import deploy, ip, pod, req, sts, subnet

from fip.core.owner import OwnerKey
from fip.core.record import IPState
from fip.core.subnet import IPAddress, Pool
from fip.store.errors import IPTaken, NoFreeIP, NotAllocatable, PoolForbidden, PoolFull, StaleOperation
from fip.store.protocol import Store

SUB = subnet(ranges=(("10.0.1.10", "10.0.1.17"),), excluded=("10.0.1.12",), reserved=("10.0.1.15",))
ALLOCATABLE = {ip(f"10.0.1.{n}") for n in (10, 11, 13, 14, 16, 17)}
REQUESTABLE = ALLOCATABLE | {ip("10.0.1.15")}
POOL = Pool("gold", "dc1-a", 2, frozenset({"default"}))
OWNERS = [sts("web", 0), sts("web", 1), deploy("api"), pod("a"), pod("b", "other")]
UIDS = [f"u{i}" for i in range(8)]
ADDRS = sorted(REQUESTABLE | {ip("10.0.1.12"), ip("10.0.1.1"), ip("10.0.1.200")})
REQUESTS: list[str | None] = [
    None,
    None,
    None,
    "10.0.1.10",
    "10.0.1.12",
    "10.0.1.15",
    "10.0.1.17",
    "10.0.1.1",
]

Held = tuple[OwnerKey, str, IPState, str]  # owner, pod uid ("" when reserved), state, pool


class StoreModel(RuleBasedStateMachine):
    factory: Callable[[], Store]

    def __init__(self) -> None:
        super().__init__()
        self.store = type(self).factory()
        self.store.initialise()
        self.store.put_subnet(SUB)
        self.store.put_pool(POOL)
        self.model: dict[IPAddress, Held] = {}
        self.now = 1.0

    def _tick(self) -> float:
        self.now += 1.0
        return self.now

    def _expect(self, owner: OwnerKey, uid: str, want: IPAddress | None, pool: str) -> type[Exception] | None:
        """The refusal the store must give (in its documented order), or None for success."""
        by_uid = [a for a, h in self.model.items() if h[1] == uid]
        if by_uid:
            return StaleOperation if self.model[by_uid[0]][0] != owner else None
        if pool and not POOL.allows(owner.namespace):
            return PoolForbidden
        if any(h[0] == owner and h[2] == IPState.RESERVED for h in self.model.values()):
            return None
        if pool and sum(1 for h in self.model.values() if h[3] == pool) >= POOL.size:
            return PoolFull
        if want is not None:
            return NotAllocatable if want not in REQUESTABLE else IPTaken if want in self.model else None
        return NoFreeIP if not ALLOCATABLE - self.model.keys() else None

    @rule(
        owner=st.sampled_from(OWNERS),
        uid=st.sampled_from(UIDS),
        requested=st.sampled_from(REQUESTS),
        pool=st.sampled_from(["", "gold"]),
    )
    def allocate(self, owner: OwnerKey, uid: str, requested: str | None, pool: str) -> None:
        want = None if requested is None else ip(requested)
        expected = self._expect(owner, uid, want, pool)
        by_uid = [a for a, h in self.model.items() if h[1] == uid]
        mine = {a for a, h in self.model.items() if h[0] == owner and h[2] == IPState.RESERVED}
        try:
            rec = self.store.allocate(req(owner, uid, requested=requested, pool=pool, now=self._tick()))
        except (StaleOperation, PoolForbidden, PoolFull, NotAllocatable, IPTaken, NoFreeIP) as e:
            assert expected is type(e), (expected, e)
            return
        assert expected is None, expected
        assert rec.owner == owner and rec.pod_uid == uid
        if by_uid:
            assert rec.ip == by_uid[0]  # idempotent retry
            return
        if mine:
            assert rec.ip in mine
            assert want not in mine or rec.ip == want
            self.model[rec.ip] = (owner, uid, IPState.ALLOCATED, self.model[rec.ip][3])
            return
        if want is not None:
            assert rec.ip == want
        else:
            assert rec.ip in ALLOCATABLE and rec.ip not in self.model
        assert rec.pool == pool
        self.model[rec.ip] = (owner, uid, IPState.ALLOCATED, pool)

    @rule(addr=st.sampled_from(ADDRS), uid=st.sampled_from(UIDS))
    def bind(self, addr: IPAddress, uid: str) -> None:
        held = self.model.get(addr)
        try:
            rec = self.store.bind("dc1-a", addr, uid, "node-2", self._tick())
        except StaleOperation:
            assert held is None or held[1] != uid
            return
        assert held is not None and held[1] == uid and rec.state == IPState.BOUND
        self.model[addr] = (held[0], uid, IPState.BOUND, held[3])

    @rule(addr=st.sampled_from(ADDRS), owner=st.sampled_from(OWNERS), uid=st.sampled_from(UIDS))
    def reserve(self, addr: IPAddress, owner: OwnerKey, uid: str) -> None:
        held = self.model.get(addr)
        try:
            rec = self.store.reserve("dc1-a", addr, owner, uid, self._tick())
        except StaleOperation:
            assert held is None or held[0] != owner or (held[2] != IPState.RESERVED and held[1] != uid)
            return
        assert held is not None and held[0] == owner
        assert rec.state == IPState.RESERVED and rec.pod_uid == ""
        self.model[addr] = (owner, "", IPState.RESERVED, held[3])

    @rule(addr=st.sampled_from(ADDRS), owner=st.sampled_from(OWNERS), uid=st.sampled_from([*UIDS, ""]))
    def release(self, addr: IPAddress, owner: OwnerKey, uid: str) -> None:
        held = self.model.get(addr)
        try:
            rec = self.store.release("dc1-a", addr, owner, uid, self._tick())
        except StaleOperation:
            assert held is not None and (held[0] != owner or held[1] != uid)
            return
        if held is None:
            assert rec is None
            return
        assert rec is not None and (rec.owner, rec.pod_uid) == (owner, uid) == held[:2]
        del self.model[addr]

    @rule(addr=st.sampled_from(ADDRS))
    def force_release(self, addr: IPAddress) -> None:
        rec = self.store.force_release("dc1-a", addr)
        assert (rec is None) == (addr not in self.model)
        self.model.pop(addr, None)

    @invariant()
    def matches_model(self) -> None:
        recs = self.store.by_subnet("dc1-a")
        assert {r.ip: (r.owner, r.pod_uid, r.state, r.pool) for r in recs} == self.model
        uids = [r.pod_uid for r in recs if r.pod_uid]
        assert len(uids) == len(set(uids))
        assert sum(1 for r in recs if r.pool == "gold") <= POOL.size
        u = self.store.usage("dc1-a")
        assert u.total == len(REQUESTABLE)
        assert u.allocated == sum(1 for h in self.model.values() if h[2] != IPState.RESERVED)
        assert u.reserved == sum(1 for h in self.model.values() if h[2] == IPState.RESERVED)
        assert u.free + u.allocated + u.reserved == u.total
        assert u.free >= 0


EXAMPLES = {"memory": 300, "redis": 150, "cluster": 60}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_store_matches_model(name: str, request: pytest.FixtureRequest) -> None:
    backend = make_backend(name, request)

    def factory() -> Store:
        backend.lose()  # a fresh, empty store per example (the function library stays)
        return backend.store

    machine = type(f"StoreModel_{name}", (StoreModel,), {"factory": staticmethod(factory)})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES[name],
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    backend.store.close()
