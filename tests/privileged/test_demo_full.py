"""`make demo` as root: the whole story on `fip-lab up` exits 0 in budget, shows every step's
evidence as the kubectl/fipctl commands a user types, and leaves nothing behind; interrupted
half way (SIGINT, as Ctrl-C), it still takes the lab down.

What the demo made is named in its own output: the run directory ("the lab runs in
/tmp/fipdemo-...") and the namespace prefix ("namespaces fl-xxxxxx-*"). Other runs may share the
machine, so leftovers are looked for by those names only.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge import netlink

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
        reason="needs root (network namespaces)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]


def _assert_nothing_left(out: str) -> None:
    run_dir = re.search(r"the lab runs in (/tmp/fipdemo-\S+) ", out)
    prefix = re.search(r"namespaces (fl-[0-9a-f]{6})-\*", out)
    assert run_dir and prefix, out[-2000:]
    assert not [n for n in netlink.list_netns() if n.startswith(prefix.group(1))]
    assert not Path(f"/sys/fs/bpf/{prefix.group(1)}").exists()
    ps = subprocess.run(
        ["pgrep", "-af", run_dir.group(1)], capture_output=True, text=True, check=False
    ).stdout
    assert not [line for line in ps.splitlines() if "pgrep" not in line], ps
    assert not Path(run_dir.group(1)).exists()


def test_full_demo_shows_every_step_and_leaves_nothing() -> None:
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "lab.demo"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=False)  # fmt: skip
    elapsed = time.monotonic() - t0
    out = res.stdout
    assert res.returncode == 0, out[-4000:] + res.stderr
    assert elapsed < 180
    assert "Traceback" not in res.stderr + out
    for line in [
        "$ fip-lab up --run-dir",
        "$ kubectl get nodes -L fip.io/l2,fip.io/mode",
        "$ kubectl apply -f examples/demo.yaml",
        "tapp.apps.tkestack.io/jobs created",
        "$ kubectl get pods -o wide",
        "ok: every api pod's IP is from api-pool's subnet dc-a",
        "ok: 8 pods, 8 different IPs",
        "ok: the legacy host accepts exactly the whitelisted IPs",
        "$ kubectl drain ",
        "kept its IP",
        "ok: Deployment api holds the same set of IPs as before",
        "$ kubectl scale deployment api --replicas=1",
        "are free again",
        "ok: every request to 10.96.0.2:80 reached a db pod",
        "$ fipctl check --kubeconfig $KUBECONFIG",
        "no problems:",
        "ok: no IP held twice; every running pod plugged on its node and reachable from its legacy host",
        "Summary: 9 checks held",
        "fip-lab down: the lab is gone",
    ]:
        assert line in out, line
    accepted = re.findall(r"^  (\S+)\s+\S+\s+\S+\s+ACCEPTED$", out, re.M)
    assert sorted(set(accepted)) == ["db-0", "db-1"], accepted
    _assert_nothing_left(out)


def test_interrupted_demo_takes_the_lab_down() -> None:
    """SIGINT once the workloads run: exit 130, nothing left."""
    proc = subprocess.Popen([sys.executable, "-m", "lab.demo"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "ok: 8 pods, 8 different IPs" in line:
                proc.send_signal(signal.SIGINT)
                break
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines) + rest
    assert "ok: 8 pods" in out, out[-3000:] + err
    assert proc.returncode == 130, err
    assert "interrupted; taking the lab down" in err
    assert "Summary" not in out
    _assert_nothing_left(out)


def test_the_demo_needs_root_and_says_so() -> None:
    code = "import os, sys; os.geteuid = lambda: 1000; from lab import demo; sys.exit(demo.main([]))"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=False)  # fmt: skip
    assert res.returncode == 2
    assert "run it as root (sudo make demo)" in res.stderr
