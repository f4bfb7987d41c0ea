"""`fip-extender` as a child process for the e2e tests and the benchmark: gunicorn master and
workers in their own session on a free loopback port, stopped (whole process group) by `stop`.

`wait_ready` polls /readyz several times in a row, so every worker (not just the one that
answered first) has synced its caches before a test starts.
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from lab.redisproc import free_port

BIN = pathlib.Path(sys.executable).parent


class Extender:
    """One fip-extender process (gunicorn master + workers) on a free loopback port."""

    def __init__(
        self,
        redis_url: str,
        kubeconfig: str,
        *,
        workers: int = 2,
        extra: tuple[str, ...] = (),
        log: pathlib.Path,
        refresh: float = 0.5,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "fip-extender"), "--redis-url", redis_url, "--listen", f"127.0.0.1:{self.port}",
             "--kubeconfig", kubeconfig, "--workers", str(workers), "--refresh", str(refresh), *extra],
            stdout=self._out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 30.0, probe: Callable[[], bool] | None = None) -> None:
        """Until /readyz answers 200 several times in a row (every worker must be ready, not
        just the one that answered)."""
        check = probe or self._ready_once
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"fip-extender exited {self.proc.returncode}: {self.log_tail()}")
            if all(self._quiet(check) for _ in range(6)):
                return
            time.sleep(0.2)
        raise AssertionError(f"fip-extender not ready after {timeout}s: {self.log_tail()}")

    @staticmethod
    def _quiet(check: Callable[[], bool]) -> bool:
        try:
            return check()
        except OSError:
            return False

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """One plain-HTTP exchange with the extender (status, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(
                method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})}
            )
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def _ready_once(self) -> bool:
        return self.request("GET", "/readyz")[0] == 200

    def post(
        self, path: str, body: object, *, raw: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        status, data = self.request(
            "POST", path, raw if raw is not None else json.dumps(body).encode(), headers
        )
        return status, json.loads(data)

    def metrics(self) -> str:
        return self.request("GET", "/metrics")[1].decode()

    def log_tail(self, n: int = 3000) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")[-n:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._out.close()
