"""`make demo` (python -m lab.demo) runs end to end against its own redis-server, within its
30-second budget, and leaves no redis-server of its own behind."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _redis_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-x", "redis-server"], capture_output=True, text=True, check=False)
    return {int(p) for p in out.stdout.split()}


def test_demo_runs_shows_tables_and_cleans_up() -> None:
    before = _redis_pids()
    t0 = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "lab.demo"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    assert elapsed < 30
    out = res.stdout
    assert "SUBNET     CIDR" in out and "IP " in out and "STATE" in out
    assert "same IP as before: True" in out
    assert out.count("refused:") == 3  # before init, pool not allowed, stale release
    assert "stale request" in out
    assert "Not built yet" in out and "scheduler extender" in out
    assert "Traceback" not in res.stderr
    # the demo's server is gone (other tests' servers may come and go meanwhile)
    port = next(line for line in out.splitlines() if "throwaway redis-server on" in line).split(":")[-1]
    port = port.split()[0]
    leftover = subprocess.run(
        ["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True, check=False
    )
    assert not (set(map(int, leftover.stdout.split())) - before)
