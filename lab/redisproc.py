"""Real redis-server processes for tests and benchmarks, on free loopback ports in a temp dir.

    with RedisServer() as srv:          # standalone; srv.url == "redis://127.0.0.1:PORT/0"
    with RedisCluster() as cl:          # 3 masters; cl.url == "redis+cluster://127.0.0.1:P1,...,P3"
    with RedisSentinel() as se:         # one master + one sentinel; se.url == "redis+sentinel://.../fip"
    with RedisSentinel(replicas=1) as se: se.failover()   # promote the replica

Each object stops only the processes it started (by PID, SIGTERM then SIGKILL) and removes its
temp dir, also when starting failed half way. Servers listen on 127.0.0.1 only and never on
6379. `command()` speaks just enough RESP to drive a server without importing redis (only
`fip.store.redis_store` may import it).

Errors: `RedisProcError` (a RuntimeError) with the server log tail when a server does not come up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
HOST = "127.0.0.1"


class RedisProcError(RuntimeError):
    pass


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port(cluster_bus: bool = False) -> int:
    """A free loopback port (with port+10000 free too when `cluster_bus`), never 6379."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        if port == 6379 or (cluster_bus and (port > 55535 or not _port_free(port + 10000))):
            continue
        return port
    raise RedisProcError("no free loopback port found")


def _encode(args: tuple[str | bytes | int, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def _read_reply(reader: BinaryIO) -> object:
    line = reader.readline()
    if not line:
        raise ConnectionError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisProcError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = reader.read(n + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(reader) for _ in range(n)]
    raise RedisProcError(f"unexpected RESP reply {line!r}")


def command(port: int, *args: str | bytes | int, timeout: float = 5.0, password: str = "") -> object:
    """Send one command to 127.0.0.1:port and return the decoded reply (errors raise)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s, s.makefile("rb") as reader:
        if password:
            s.sendall(_encode(("AUTH", password)))
            _read_reply(reader)
        s.sendall(_encode(args))
        return _read_reply(reader)


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: ask for SIGTERM when our parent thread dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class _Proc:
    """One redis-server process we started; stop() kills only this PID."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.log = log
        # Our own session, so a Ctrl-C aimed at the caller's process group leaves the server to our
        # orderly stop(). Linux's parent-death signal then ends the server if the caller is killed
        # outright (SIGKILL, OOM) and never reaches stop(). It fires when the *thread* that started
        # the server ends, so it is only set up from the main thread.
        on_main = threading.current_thread() is threading.main_thread()
        with log.open("ab") as logf:
            self.popen = subprocess.Popen(
                argv,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if on_main else None,  # noqa: PLW1509
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()
            self.popen.wait(5)

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return ""


def _wait_ping(proc: _Proc, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RedisProcError(f"redis-server on port {port} exited:\n{proc.log_tail()}")
        try:
            if command(port, "PING", timeout=1.0) == "PONG":
                return
        except (OSError, ConnectionError, RedisProcError):
            pass
        time.sleep(0.02)
    raise RedisProcError(f"redis-server on port {port} did not answer PING in {timeout}s:\n{proc.log_tail()}")


class _Base:
    """Temp dir + processes; context manager that always cleans up."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fip-redis-"))
        self._procs: list[_Proc] = []

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        raise NotImplementedError

    def _spawn(self, port: int, extra: list[str], name: str) -> _Proc:
        workdir = self.dir / name
        workdir.mkdir(exist_ok=True)
        argv = [
            REDIS_SERVER,
            "--bind",
            HOST,
            "--port",
            str(port),
            "--dir",
            str(workdir),
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--save",
            "",
            *extra,
        ]
        proc = _Proc(argv, self.dir / f"{name}.log")
        self._procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self._procs):
            with contextlib.suppress(Exception):
                proc.stop()
        self._procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer(_Base):
    """A standalone redis-server. `appendonly=True` turns AOF on (everysec), so a restart keeps
    the data; without it a restart comes back empty (what loss-detection tests want)."""

    def __init__(self, appendonly: bool = False, port: int = 0, password: str = "") -> None:
        super().__init__()
        self.appendonly = appendonly
        self.port = port or free_port()
        self.password = password
        self.proc: _Proc | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{HOST}:{self.port}/0"

    def start(self) -> None:
        extra = ["--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec"]
        if self.password:
            extra += ["--requirepass", self.password]
        self.proc = self._spawn(self.port, extra, "server")
        _wait_ping_auth(self.proc, self.port, self.password)

    def stop(self, hard: bool = False) -> None:
        """Stop the server (SIGKILL when `hard`); `start()` brings it back on the same port."""
        if self.proc is not None:
            self.proc.stop(signal.SIGKILL if hard else signal.SIGTERM)
            self._procs.remove(self.proc)
            self.proc = None

    def restart(self, hard: bool = False) -> None:
        self.stop(hard)
        self.start()

    def command(self, *args: str | bytes | int) -> object:
        return command(self.port, *args, password=self.password)


def _wait_ping_auth(proc: _Proc, port: int, password: str) -> None:
    if not password:
        _wait_ping(proc, port)
        return
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RedisProcError(f"redis-server on port {port} exited:\n{proc.log_tail()}")
        with contextlib.suppress(OSError, ConnectionError, RedisProcError):
            if command(port, "PING", timeout=1.0, password=password) == "PONG":
                return
        time.sleep(0.02)
    raise RedisProcError(f"redis-server on port {port} did not answer PING:\n{proc.log_tail()}")


class RedisCluster(_Base):
    """A Redis Cluster of `masters` masters (no replicas) created with `redis-cli --cluster create`."""

    def __init__(self, masters: int = 3) -> None:
        super().__init__()
        self.masters = masters
        self.ports: list[int] = []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{HOST}:{p}" for p in self.ports)

    def start(self) -> None:
        while len(self.ports) < self.masters:
            p = free_port(cluster_bus=True)
            if p not in self.ports:
                self.ports.append(p)
        procs = []
        for i, port in enumerate(self.ports):
            extra = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(self.dir / f"node{i}" / "nodes.conf"),
                "--cluster-node-timeout",
                "5000",
                "--appendonly",
                "no",
            ]
            (self.dir / f"node{i}").mkdir(exist_ok=True)
            procs.append((self._spawn(port, extra, f"node{i}"), port))
        for proc, port in procs:
            _wait_ping(proc, port)
        argv = [REDIS_CLI, "--cluster", "create", *[f"{HOST}:{p}" for p in self.ports]]
        argv += ["--cluster-replicas", "0", "--cluster-yes"]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if res.returncode != 0:
            raise RedisProcError(f"redis-cli --cluster create failed:\n{res.stdout}\n{res.stderr}")
        self._wait_ok()

    def _wait_ok(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = []
            for p in self.ports:
                try:
                    states.append(str(command(p, "CLUSTER", "INFO")))
                except (OSError, ConnectionError, RedisProcError):
                    states.append("")
            if all("cluster_state:ok" in s for s in states):
                return
            time.sleep(0.05)
        raise RedisProcError(f"cluster on ports {self.ports} did not reach cluster_state:ok")

    def command(self, index: int, *args: str | bytes | int) -> object:
        return command(self.ports[index], *args)

    def flushall(self) -> None:
        for p in self.ports:
            command(p, "FLUSHALL")

    def node_for(self, key: str) -> int:
        """Index (into `ports`) of the master serving `key`'s slot."""
        slot = command(self.ports[0], "CLUSTER", "KEYSLOT", key)
        assert isinstance(slot, int)
        ranges = command(self.ports[0], "CLUSTER", "SLOTS")
        assert isinstance(ranges, list)
        for entry in ranges:
            start, end, master = entry[0], entry[1], entry[2]
            if start <= slot <= end:
                return self.ports.index(int(master[1]))
        raise RedisProcError(f"no master serves slot {slot}")


class RedisSentinel(_Base):
    """One master, `replicas` replicas of it and one sentinel monitoring it as `master_name`
    (quorum 1). With replicas, `failover()` promotes one (SENTINEL FAILOVER) and waits until the
    sentinel names it; tests use it to drill a failover on loopback."""

    def __init__(self, master_name: str = "fip", replicas: int = 0) -> None:
        super().__init__()
        self.master_name = master_name
        self.master_port = free_port()
        self.replica_ports = [free_port() for _ in range(replicas)]
        self.sentinel_port = free_port()

    @property
    def url(self) -> str:
        return f"redis+sentinel://{HOST}:{self.sentinel_port}/{self.master_name}"

    def start(self) -> None:
        master = self._spawn(self.master_port, ["--appendonly", "no"], "master")
        _wait_ping(master, self.master_port)
        for i, port in enumerate(self.replica_ports):
            replica = self._spawn(
                port, ["--appendonly", "no", "--replicaof", HOST, str(self.master_port)], f"r{i}"
            )
            _wait_ping(replica, port)
        conf = self.dir / "sentinel.conf"
        conf.write_text(
            f"bind {HOST}\nport {self.sentinel_port}\ndir {self.dir}\n"
            f"sentinel monitor {self.master_name} {HOST} {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.master_name} 5000\n"
            f"sentinel failover-timeout {self.master_name} 10000\n"
        )
        log = self.dir / "sentinel.log"
        proc = _Proc([REDIS_SERVER, str(conf), "--sentinel"], log)
        self._procs.append(proc)
        _wait_ping(proc, self.sentinel_port)
        self._wait(lambda: bool(self.master_addr()), f"sentinel does not know {self.master_name}")
        if self.replica_ports:
            self._wait(self._replicas_known, "sentinel has not discovered the replicas", 30.0)

    def _wait(self, ok: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ConnectionError, RedisProcError):
                if ok():
                    return
            time.sleep(0.05)
        raise RedisProcError(f"sentinel on port {self.sentinel_port}: {what}")

    def master_addr(self) -> tuple[str, int] | None:
        got = command(self.sentinel_port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)
        if not isinstance(got, list) or len(got) != 2:
            return None
        host, port = got
        return (host.decode() if isinstance(host, bytes) else str(host)), int(port)

    def _replicas_known(self) -> bool:
        listed = command(self.sentinel_port, "SENTINEL", "REPLICAS", self.master_name)
        if not isinstance(listed, list) or len(listed) < len(self.replica_ports):
            return False
        for port in self.replica_ports:
            info = command(port, "INFO", "replication")
            text = info.decode() if isinstance(info, bytes) else str(info)
            if "master_link_status:up" not in text:
                return False
        return True

    def failover(self, timeout: float = 30.0) -> tuple[str, int]:
        """Promote a replica; returns the new master's address once the sentinel reports it."""
        old = self.master_addr()
        command(self.sentinel_port, "SENTINEL", "FAILOVER", self.master_name)
        self._wait(lambda: self.master_addr() not in (None, old), "failover did not complete", timeout)
        new = self.master_addr()
        assert new is not None
        self._wait(lambda: _role(new[1]) == "master", "promoted replica is not master", timeout)
        self._wait(lambda: self._settled(new), "sentinel did not finish the failover", timeout)
        return new

    def _settled(self, addr: tuple[str, int]) -> bool:
        """SENTINEL MASTER reports `addr` with no failover in progress (what clients query)."""
        reply = command(self.sentinel_port, "SENTINEL", "MASTER", self.master_name)
        if not isinstance(reply, list):
            return False
        fields = [x.decode() if isinstance(x, bytes) else str(x) for x in reply]
        state = dict(zip(fields[::2], fields[1::2], strict=False))
        flags = state.get("flags", "")
        return state.get("port") == str(addr[1]) and "failover" not in flags and "down" not in flags


def _role(port: int) -> str:
    info = command(port, "INFO", "replication")
    text = info.decode() if isinstance(info, bytes) else str(info)
    for line in text.splitlines():
        if line.startswith("role:"):
            return line.split(":", 1)[1].strip()
    return ""


def pids_alive(pids: list[int]) -> list[int]:
    """Which of `pids` still exist (for tests that check cleanup)."""
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        alive.append(pid)
    return alive
