"""deploy/redis run for real: the shipped redis.conf, started by the StatefulSet's own command
line (sh + exec, with and without a password), and its readiness probe; fip's store and fipctl
work on it, and what was written survives a SIGKILL and a restart (AOF), as the pod's data does
on its volume. Only the address is changed: loopback, a free port, a temporary directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fip.store.factory import open_store
from lab.redisproc import RedisProcError, command, free_port

REPO = Path(__file__).resolve().parents[2]
REDIS = REPO / "deploy" / "redis"
FIPCTL = Path(sys.executable).parent / "fipctl"


def container() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((REDIS / "statefulset.yaml").read_text()) if d]
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    return dict(c)


class Pod:
    """redis-server as the container starts it; stop() signals only the PID we started."""

    def __init__(self, tmp: Path, password: str = "") -> None:
        self.port = free_port()
        self.password = password
        self.data = tmp / "data"
        self.data.mkdir(exist_ok=True)
        text = (REDIS / "redis.conf").read_text()
        for old, new in (("port 6379", f"port {self.port}"), ("dir /data", f"dir {self.data}"),
                         ("bind * -::*", "bind 127.0.0.1")):  # fmt: skip
            assert f"\n{old}\n" in text, old
            text = text.replace(f"\n{old}\n", f"\n{new}\n")
        self.conf = tmp / "redis.conf"
        self.conf.write_text(text)
        self.log = tmp / "redis.log"
        self.env = {"PATH": os.environ["PATH"], **({"REDIS_PASSWORD": password} if password else {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        sh, dash_c, line = container()["command"]
        assert (sh, dash_c) == ("sh", "-c")
        line = line.replace("/etc/redis/redis.conf", str(self.conf))
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sh, dash_c, line], env=self.env, stdout=log, stderr=log,
                                         start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 10
        while not self.ready():
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)

    def ready(self) -> bool:
        """The StatefulSet's readiness probe, aimed at our port."""
        probe = container()["readinessProbe"]["exec"]["command"]
        line = probe[2].replace("redis-cli -h 127.0.0.1", f"redis-cli -h 127.0.0.1 -p {self.port}")
        run = subprocess.run([*probe[:2], line], env=self.env, capture_output=True, timeout=10, check=False)
        return run.returncode == 0

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def cmd(self, *args: str) -> object:
        return command(self.port, *args, password=self.password)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[Pod]:
    p = Pod(tmp_path)
    try:
        p.start()
        yield p
    finally:
        p.stop()


def fipctl(url: str, *args: str) -> str:
    out = subprocess.run([str(FIPCTL), *args], env={**os.environ, "FIP_REDIS_URL": url},
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_shipped_config_is_what_redis_runs(pod: Pod) -> None:
    assert pod.proc is not None
    assert Path(f"/proc/{pod.proc.pid}/comm").read_text().strip() == "redis-server"  # sh exec'd it
    got = {k: pod.cmd("CONFIG", "GET", k) for k in ("appendonly", "appendfsync", "maxmemory-policy", "save")}
    assert got == {
        "appendonly": ["appendonly", "yes"],
        "appendfsync": ["appendfsync", "everysec"],
        "maxmemory-policy": ["maxmemory-policy", "noeviction"],
        "save": ["save", ""],
    }
    assert pod.cmd("CONFIG", "GET", "maxmemory") == ["maxmemory", str(512 * 1024 * 1024)]


def test_fip_state_survives_a_kill_and_a_restart(pod: Pod) -> None:
    fipctl(pod.url, "init", "--yes")
    fipctl(pod.url, "subnets", "apply", "-f", str(REPO / "examples" / "subnets.yaml"))
    before = json.loads(fipctl(pod.url, "-o", "json", "subnets"))
    identity = open_store(pod.url).server_identity()
    pod.stop(signal.SIGKILL)  # no shutdown fsync: what is on disk is what everysec wrote
    pod.start()
    assert json.loads(fipctl(pod.url, "-o", "json", "subnets")) == before
    store = open_store(pod.url)
    store.check_intact()  # the loss marker came back from the AOF, and so did the functions
    assert store.server_identity() != identity  # the controllers see a restart and re-verify
    assert (pod.data / "appendonlydir").is_dir()


def test_a_password_from_the_secret_is_required(tmp_path: Path) -> None:
    p = Pod(tmp_path, password="s3cret word")
    try:
        p.start()  # the readiness probe authenticates with REDISCLI_AUTH
        with pytest.raises(RedisProcError, match="NOAUTH"):
            command(p.port, "PING")
        assert p.cmd("PING") == "PONG"
        fipctl(p.url.replace("s3cret word", "s3cret%20word"), "init", "--yes")
    finally:
        p.stop()
    assert not p.ready()  # the probe fails once Redis is gone
