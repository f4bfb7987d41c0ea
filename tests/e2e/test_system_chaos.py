"""Chaos on the whole system (lab.cluster.chaos), bounded to about five minutes.

While Deployments churn through at least 2,000 allocations and a StatefulSet loses pods, the
extender, the controllers, fipd processes and the Redis primary are killed at random (Redis
restarting from its AOF), the Sentinel fails Redis over once, Redis loses everything once
(FLUSHALL), and the API server drops every watch and forces 410s. Afterwards: no IP held
twice, every running pod plugged and reachable from its legacy host, `fipctl check` clean, the
StatefulSet's pods on their first IPs, and zero allocations once every workload is deleted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from system_lab import NEEDS_ROOT, System, bring_up

from lab.cluster import chaos

pytestmark = [pytest.mark.e2e, pytest.mark.slow, NEEDS_ROOT]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The default lab with Redis behind a Sentinel (a primary and a replica), for the failover."""
    yield from bring_up(tmp_path_factory.mktemp("fiplab"), redis="sentinel")


def test_invariants_hold_after_chaos(system: System) -> None:
    # churn for at least 150 s and until 2,000 allocations (about 190 s alone on 2 cores; every
    # kind of fault is in by ~60 s), at most 300 s
    report = chaos.run(system.run, seconds=150, target=2000, seed=12)
    print("\n".join(report.lines()))
    kinds = {f.split()[1].rstrip(":") for f in report.faults}
    assert {*chaos.KINDS, *chaos.SENTINEL_KINDS} <= kinds, (
        f"not every kind of fault was injected: {sorted(kinds)}"
    )
    assert not [f for f in report.faults if "could not inject" in f], report.faults
    assert report.allocations >= 2000, "\n".join(report.lines())
    assert report.ok, "\n".join(report.lines())
    assert report.seconds < 600
