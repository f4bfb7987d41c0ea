"""Fixtures the datapath-mode tests share.

`env` is a one-node lab (`lab.topology.single_node`) for each datapath mode in turn, so a test that
asks for it runs once per mode; the lab's namespaces are removed when the test ends, even on
failure. A module that covers fewer modes defines its own `env`, which takes precedence here.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.topology import PodLab, single_node


@pytest.fixture(params=["bridge", "macvlan", "sriov"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PodLab]:
    yield from single_node(request.param, str(tmp_path / "sys"))
