"""Health probes of the lab's components: each returns None when healthy, else what is wrong.

They are used both by the supervisor (while bringing the system up) and by `fip-lab status`
(from another process), so they depend on nothing but addresses and paths.
"""

from __future__ import annotations

import http.client
import os
import socket
from collections.abc import Callable
from pathlib import Path

from lab.redisproc import command

Probe = Callable[[], str | None]


def http_ok(port: int, path: str = "/healthz", host: str = "127.0.0.1", timeout: float = 2.0) -> Probe:
    def probe() -> str | None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read(200).decode(errors="replace").strip()
        except OSError as err:
            return f"GET http://{host}:{port}{path}: {err}"
        finally:
            conn.close()
        return None if resp.status == 200 else f"GET {path}: {resp.status} {body[:80]}"

    return probe


def redis_ping(port: int) -> Probe:
    def probe() -> str | None:
        try:
            answer = command(port, "PING", timeout=2.0)
        except (OSError, RuntimeError) as err:
            return f"redis PING on port {port}: {err}"
        return None if answer == "PONG" else f"redis PING answered {answer!r}"

    return probe


def sentinel_knows(port: int, master: str) -> Probe:
    """The Sentinel answers and names a primary for `master`."""

    def probe() -> str | None:
        try:
            got = command(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", master, timeout=2.0)
        except (OSError, RuntimeError) as err:
            return f"sentinel on port {port}: {err}"
        return None if isinstance(got, list) and len(got) == 2 else f"sentinel does not know {master} yet"

    return probe


def socket_listening(path: Path) -> Probe:
    """The unix socket exists (fipd creates it only once it serves)."""

    def probe() -> str | None:
        return None if path.is_socket() else f"{path} does not exist yet"

    return probe


def both(*probes: Probe) -> Probe:
    def probe() -> str | None:
        for p in probes:
            problem = p()
            if problem is not None:
                return problem
        return None

    return probe


def free_port() -> int:
    """A free loopback TCP port (bound and released; the lab picks them all before starting)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def executable(path: str | os.PathLike[str]) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)
