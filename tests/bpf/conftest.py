"""Fixtures of the bpf tier (root, real kernel, bcc).

`datapath` compiles the programs once per module (bcc takes ~1 s) with maps pinned under a fresh
/sys/fs/bpf/fip-test-<hex>, removed when the module ends. `clean` (autouse) empties the maps
after every test, so tests never see each other's Services or connections. `lab` is a fresh
two-node `ServiceLab` per test (namespaces, pods and server processes gone when it ends; the
pods' tc programs go with their interfaces). `cgroup` is a per-test cgroup2 directory for
socket-mode tests; programs attached to it are detached and it is removed afterwards.

Outside CI, without root or bcc, the tier skips; in CI (`CI=true`) a skip fails the run.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from lab.network import unique_prefix
from lab.servicelab import ServiceLab

CGROUP2 = "/sys/fs/cgroup/unified" if os.path.ismount("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"

try:
    from bpf import loader

    loader.Datapath.open  # noqa: B018
except ImportError:  # pragma: no cover
    loader = None  # type: ignore[assignment]


def _usable() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    try:
        import bcc  # noqa: F401
    except ImportError:
        return "bcc cannot be imported by this interpreter (use .venv/bin/python)"
    return None


@pytest.fixture(scope="module")
def datapath() -> Iterator[loader.Datapath]:
    reason = _usable()
    if reason:
        pytest.skip(reason)
    pins = f"/sys/fs/bpf/fip-test-{secrets.token_hex(4)}"
    dp = loader.Datapath.open(loader.Settings(pin_dir=pins, services_max=2048, backends_max=8192))
    try:
        yield dp
    finally:
        dp.close()
        loader.remove_pins(pins)


@pytest.fixture(autouse=True)
def clean(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "datapath" in request.fixturenames:
        dp = request.getfixturevalue("datapath")
        for name in ("services", "backends", "revnat", "ct", "affinity", "pods", "sockrev"):
            dp.maps.table(name).clear()


@pytest.fixture
def lab() -> Iterator[ServiceLab]:
    with ServiceLab(unique_prefix("fipbpf")) as built:
        yield built


@pytest.fixture
def cgroup(datapath: loader.Datapath) -> Iterator[str]:
    path = os.path.join(CGROUP2, f"fip-test-{secrets.token_hex(4)}")
    os.mkdir(path)
    try:
        yield path
    finally:
        datapath.detach_cgroup(path)
        os.rmdir(path)
