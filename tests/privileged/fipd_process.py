"""fipd as the privileged tests run it: a subprocess started from the root namespace that works in
the simulated node n1 through --host-netns, with its socket, state and log under one temp dir.

Imported by the test modules beside it (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

FIPD = Path(sys.executable).with_name("fipd")


class FipdProcess:
    """One fipd for node n1 on uplink eth1; `flags` add the test's own settings (mode, timeouts).

    `proc` is set as soon as the process exists, so a teardown that stops it also ends one that
    failed to come up."""

    def __init__(self, root: Path, kubeconfig: Path, node_netns: str, flags: list[str]) -> None:
        self.root = root
        self.socket = root / "run" / "fipd.sock"
        self.log = root / "fipd.log"
        self.argv = [
            str(FIPD), "--kubeconfig", str(kubeconfig), "--node", "n1", "--parent", "eth1",
            "--host-netns", node_netns, "--socket", str(self.socket), "--state-dir", str(root / "state"),
            *flags,
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        """Returns once fipd's CNI socket exists (it answers from then on); output is appended to
        `log`, whose tail the failure shows when fipd exits or takes over 20 s."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"fipd did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.05)
        return self.proc
