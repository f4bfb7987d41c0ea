"""`Stopping.call`: the call's own result or error, or KubeUnavailable at once when fipd stops."""

from __future__ import annotations

import threading
import time

import pytest

from fip.kube.errors import KubeUnavailable, NotFound
from fipd.stopping import Stopping


def test_passes_result_and_errors_through() -> None:
    stopping = Stopping()
    assert stopping.call("get pod a/b", lambda: {"ok": 1}) == {"ok": 1}

    def missing() -> None:
        raise NotFound(404, "get pod a/b: not found")

    with pytest.raises(NotFound):
        stopping.call("get pod a/b", missing)


def test_a_blocked_call_ends_when_fipd_stops() -> None:
    stopping = Stopping()
    release = threading.Event()
    threading.Timer(0.2, stopping.stop).start()
    t0 = time.monotonic()
    with pytest.raises(KubeUnavailable, match="get pod a/b: fipd is stopping"):
        stopping.call("get pod a/b", lambda: release.wait(30))
    assert time.monotonic() - t0 < 5
    release.set()
    with pytest.raises(KubeUnavailable, match="fipd is stopping"):
        stopping.call("list subnets", list)  # later calls are not even started
