"""Fixtures the datapath-mode tests share.

`env` is a one-node lab (`lab.topology.single_node`) for each datapath mode in turn, so a test that
asks for it runs once per mode; the lab's namespaces are removed when the test ends, even on
failure. A module that covers fewer modes defines its own `env`, which takes precedence here.

`bpf_pins_removed` (autouse): a fipd started with `--host-netns fiptest-...` and no
`--bpf-pin-dir` pins its ClusterIP maps under /sys/fs/bpf/fip-fiptest-...; whatever such
directory the tier leaves is removed when it ends (only those names: our tests' namespaces;
not between tests, as a restarted fipd finds its pins again).
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.topology import PodLab, single_node


@pytest.fixture(params=["bridge", "macvlan", "sriov"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PodLab]:
    yield from single_node(request.param, str(tmp_path / "sys"))


BPF_FS = Path("/sys/fs/bpf")


def _test_pins() -> set[Path]:
    try:
        return {p for p in BPF_FS.glob("fip-fiptest-*") if p.is_dir()}
    except OSError:
        return set()


@pytest.fixture(autouse=True, scope="session")
def bpf_pins_removed() -> Iterator[None]:
    before = _test_pins()
    yield
    for pins in _test_pins() - before:
        shutil.rmtree(pins, ignore_errors=True)  # unlinking a pin drops the map with its last user
