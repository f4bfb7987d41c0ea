"""Chaos on the whole system (lab.cluster.chaos), bounded to about five minutes.

While Deployments churn through at least 2,000 allocations and a StatefulSet loses pods, the
extender, the controllers, fipd processes and Redis are killed at random (Redis restarting from
its AOF), Redis loses everything once (FLUSHALL), and the API server drops every watch and
forces 410s. Afterwards: no IP held twice, every running pod plugged and reachable from its
legacy host, `fipctl check` clean, the StatefulSet's pods on their first IPs, and zero
allocations once every workload is deleted.
"""
# ruff: noqa: F811  (the system fixture imported from system_lab is re-bound as a test parameter)

from __future__ import annotations

import pytest
from system_lab import NEEDS_ROOT, System, system  # noqa: F401  (system is a fixture)

from lab.cluster import chaos

pytestmark = [pytest.mark.e2e, pytest.mark.slow, NEEDS_ROOT]


def test_invariants_hold_after_chaos(system: System) -> None:
    report = chaos.run(system.run, seconds=240, target=2000, seed=12)
    print("\n".join(report.lines()))
    kinds = {f.split()[1].rstrip(":") for f in report.faults}
    assert set(chaos.KINDS) <= kinds, f"not every kind of fault was injected: {sorted(kinds)}"
    assert not [f for f in report.faults if "could not inject" in f], report.faults
    assert report.allocations >= 2000, "\n".join(report.lines())
    assert report.ok, "\n".join(report.lines())
    assert report.seconds < 600
