"""deploy/redis run for real: the shipped redis.conf, started by the StatefulSet's own command
line (sh + exec, with and without a password), and its readiness probe; fip's store and fipctl
work on it, and what was written survives a SIGKILL and a restart (AOF), as the pod's data does
on its volume. Then the Sentinel component's start-up scripts, three pods on loopback
addresses: a failover after the master is killed keeps fip's data, and the old master rejoins
as a replica. Only addresses are changed (loopback, temporary directories)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fip.store.errors import ServerChanged
from fip.store.factory import open_store
from lab.redisproc import RedisProcError, _encode, _read_reply, command, free_port
from lab.wait import wait_for

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
    assert store.server_identity() != identity  # the controllers see a restart and re-verify
    with pytest.raises(ServerChanged):  # the marker and functions came back from the AOF, but
        store.check_intact()  # the last second of writes may not have: no allocation until then
    fipctl(pod.url, "init", "--accept-server", "--yes")  # or an operator vouches for the server
    store.check_intact()
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


class SentinelSet:
    """deploy/redis/sentinel's three pods on one machine: each pod's Redis and Sentinel started by
    the component's own scripts, on its own loopback address (the scripts' fixed ports 6379 and
    26379, as in a pod), names replaced by those addresses."""

    def __init__(self, tmp: Path) -> None:
        base = f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250) + 1}"
        self.ips = [f"{base}.{i + 1}" for i in range(3)]
        self.tmp = tmp
        self.procs: dict[tuple[str, int], subprocess.Popen[bytes]] = {}

    def env(self, i: int) -> dict[str, str]:
        d = self.tmp / f"pod-{i}"
        (d / "data").mkdir(parents=True, exist_ok=True)
        (d / "sentinel").mkdir(exist_ok=True)
        text = (REDIS / "redis.conf").read_text()
        text = text.replace("\nbind * -::*\n", f"\nbind {self.ips[i]}\n").replace(
            "\ndir /data\n", f"\ndir {d / 'data'}\n"
        )
        (d / "redis.conf").write_text(text)
        return {
            "PATH": os.environ["PATH"],
            "FIP_REDIS_SELF": self.ips[i],
            "FIP_REDIS_PEERS": " ".join(self.ips),
            "FIP_REDIS_CONF": str(d / "redis.conf"),
            "FIP_SENTINEL_DIR": str(d / "sentinel"),
            "FIP_SENTINEL_BIND": self.ips[i],
        }

    def start(self, what: str, i: int) -> None:
        script = REDIS / "sentinel" / f"start-{what}.sh"
        with (self.tmp / f"{what}-{i}.log").open("ab") as log:
            self.procs[(what, i)] = subprocess.Popen(["sh", str(script)], env=self.env(i), stdout=log,
                                                     stderr=log, start_new_session=True)  # fmt: skip
        port = 6379 if what == "redis" else 26379
        wait_for(lambda: self.ask(i, port, "PING") == "PONG" or None, 20, f"{what} {i} answers")

    def stop(self, what: str, i: int, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop((what, i), None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(10)

    def close(self) -> None:
        for what, i in list(self.procs):
            self.stop(what, i)

    def ask(self, i: int, port: int, *args: str) -> object:
        try:
            with socket.create_connection((self.ips[i], port), timeout=2) as s, s.makefile("rb") as r:
                s.sendall(_encode(args))
                return _read_reply(r)
        except (OSError, RedisProcError):
            return None

    def role(self, i: int) -> tuple[str, int]:
        """ROLE of pod i's Redis: ("master", replicas attached) or ("slave", 0); ("", 0) if down."""
        got = self.ask(i, 6379, "ROLE")
        if not isinstance(got, list):
            return "", 0
        return str(got[0]), len(got[2]) if got[0] == "master" and isinstance(got[2], list) else 0

    def master(self) -> str | None:
        """The master address every live Sentinel names, when they agree."""
        seen = {str(self.ask(i, 26379, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "fip")) for i in range(3)
                if ("sentinel", i) in self.procs}  # fmt: skip
        return next(iter(seen)) if len(seen) == 1 else None

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"{ip}:26379" for ip in self.ips) + "/fip"


@pytest.mark.slow
def test_the_sentinel_component_fails_over_and_the_old_master_rejoins(tmp_path: Path) -> None:
    s = SentinelSet(tmp_path)
    try:
        for i in range(3):
            s.start("redis", i)
        for i in range(3):
            s.start("sentinel", i)
        ip0 = s.ips[0]
        wait_for(lambda: s.master() == f"['{ip0}', '6379']" or None, 20, "all Sentinels name pod 0")
        wait_for(lambda: s.role(0) == ("master", 2) or None, 20, "pod 0 master, two replicas attached")
        fipctl(s.url, "init", "--yes")
        fipctl(s.url, "subnets", "apply", "-f", str(REPO / "examples" / "subnets.yaml"))
        before = json.loads(fipctl(s.url, "-o", "json", "subnets"))
        s.ask(0, 6379, "WAIT", "2", "5000")
        s.stop("redis", 0, signal.SIGKILL)  # the master's node dies
        new = wait_for(lambda: m if (m := s.master()) and ip0 not in m else None, 60, "a failover")
        assert json.loads(fipctl(s.url, "-o", "json", "subnets")) == before
        with pytest.raises(ServerChanged):  # frozen until a rebuild (or an operator) vouches
            open_store(s.url).check_intact()
        fipctl(s.url, "init", "--accept-server", "--yes")
        open_store(s.url).check_intact()
        s.start("redis", 0)  # pod 0 comes back: it asks the Sentinels and joins as a replica
        wait_for(lambda: s.role(0)[0] == "slave" or None, 30, "pod 0 a replica of the new master")
        assert s.master() == new
    finally:
        s.close()
