"""`python -m lab.demo`: the IPAM part runs against its own redis-server within budget and leaves no
redis-server of its own behind; without root the demo still shows the control plane and skips the
datapath with a message, exit 0. (The full demo, datapath included, is
tests/privileged/test_demo_full.py.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import demo

ROOT = Path(__file__).resolve().parents[2]


def _redis_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-x", "redis-server"], capture_output=True, text=True, check=False)
    return {int(p) for p in out.stdout.split()}


def test_demo_ipam_part_shows_tables_and_cleans_up() -> None:
    before = _redis_pids()
    t0 = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "lab.demo", "--ipam-only"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    assert elapsed < 30
    out = res.stdout
    assert "SUBNET     CIDR" in out and "IP " in out and "STATE" in out
    assert "same IP as before: True" in out
    assert out.count("  refused: ") == 3  # before init, pool not allowed, stale release
    assert "stale request" in out
    assert "released 192.0.2.12 held by db/StatefulSet/psql/0" in out
    assert "Not built yet" in out and "scheduler extender" in out
    assert "Control plane" not in out  # --ipam-only stops after the store
    assert "Traceback" not in res.stderr
    # the demo's server is gone (other tests' servers may come and go meanwhile)
    port = next(line for line in out.splitlines() if "throwaway redis-server on" in line).split(":")[-1]
    port = port.split()[0]
    leftover = subprocess.run(
        ["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True, check=False
    )
    assert not (set(map(int, leftover.stdout.split())) - before)


@pytest.fixture
def handlers() -> Iterator[None]:
    """demo.main installs SIGINT/SIGTERM handlers; put pytest's back afterwards."""
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGINT, saved[0])
    signal.signal(signal.SIGTERM, saved[1])


def test_demo_without_root_runs_the_control_plane_and_skips_the_datapath(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], handlers: None
) -> None:
    monkeypatch.setattr(demo.os, "geteuid", lambda: 1000)
    assert demo.main(["--url", "memory://demo-noroot"]) == 0
    out = capsys.readouterr().out
    assert "ok: pods spread over both nodes" in out
    assert "ok: the pod going is web-1 (web-0 stays)" in out
    assert "Datapath skipped: it needs root" in out
    assert "fip-cni ADD" not in out
    assert out.rstrip().endswith("nothing left running.")
