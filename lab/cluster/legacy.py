"""The legacy host's service: a TCP server that accepts only whitelisted fixed IPs, and logs it.

    fip-lab legacy-host --netns NS --port 5000 --allow-file F --decisions F

This is the machine fip exists for: something outside Kubernetes (a database, a mainframe
gateway) that trusts clients by source address. An accepted client gets one line `OK <its IP>`
and the connection closes; a denied one is closed at once without a byte. Every decision is
appended to `--decisions` as `<UTC time> ACCEPT|DENY <ip>:<port>` (line-buffered, so a reader
sees it as soon as the client does).

The whitelist is `--allow-file` (one IPv4 address per line, `#` comments), re-read whenever the
file changes, so an operator (or the demo, or a test) can grant an IP while it runs. The
listening socket is made inside `--netns` (the legacy host's namespace) and the process itself
stays in the root namespace. SIGTERM/SIGINT stop it; exit 0; exit 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from typing import TextIO

from bridge.nsenter import inside


class Whitelist:
    """The allow file, re-read when its (mtime, size) changes; an unreadable file allows nobody."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._ips: frozenset[IPv4Address] = frozenset()
        self._lock = threading.Lock()

    def allows(self, ip: str) -> bool:
        with self._lock:
            self._refresh()
            try:
                return ip_address(ip) in self._ips
            except ValueError:
                return False

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
        except OSError:
            self._stamp, self._ips = None, frozenset()
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        ips = set()
        for line in self.path.read_text().splitlines():
            text = line.split("#", 1)[0].strip()
            with contextlib.suppress(ValueError):
                addr = ip_address(text)
                if isinstance(addr, IPv4Address):
                    ips.add(addr)
        self._stamp, self._ips = stamp, frozenset(ips)


def write_whitelist(path: Path, ips: list[str] | tuple[str, ...], comment: str = "") -> None:
    """Replace the allow file atomically (the server never reads half a list)."""
    tmp = path.with_name(path.name + ".tmp")
    head = f"# {comment}\n" if comment else ""
    tmp.write_text(head + "".join(f"{ip}\n" for ip in ips))
    tmp.replace(path)


def serve(listener: socket.socket, whitelist: Whitelist, decisions: TextIO, stop: threading.Event) -> None:
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, (peer, port) = listener.accept()
        except TimeoutError:
            continue
        with conn:
            ok = whitelist.allows(peer)
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            decisions.write(f"{stamp} {'ACCEPT' if ok else 'DENY'} {peer}:{port}\n")
            if ok:
                with contextlib.suppress(OSError):
                    conn.sendall(f"OK {peer}\n".encode())


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fip-lab legacy-host", description=__doc__.splitlines()[0])
    p.add_argument("--netns", required=True, help="the legacy host's network namespace")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--allow-file", type=Path, required=True, help="whitelisted IPv4 addresses, one a line")
    p.add_argument("--decisions", type=Path, required=True, help="append ACCEPT/DENY lines here")
    args = p.parse_args(argv)
    if not os.path.exists(f"/var/run/netns/{args.netns}"):
        print(f"fip-lab legacy-host: --netns {args.netns}: no such network namespace", file=sys.stderr)
        return 2
    with inside(args.netns):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", args.port))  # noqa: S104  (inside the legacy host's namespace)
    listener.listen(128)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    whitelist = Whitelist(args.allow_file)
    print(f"legacy host {args.netns}: serving :{args.port}, whitelist {args.allow_file}", flush=True)
    with args.decisions.open("a", buffering=1) as decisions:
        serve(listener, whitelist, decisions, stop)
    listener.close()
    return 0


def knock(netns: str, address: str, port: int, timeout: float = 2.0) -> bool:
    """Connect from `netns` to a legacy host: True if it accepted (answered `OK`), False if it
    closed without a word (denied); OSError if it could not be reached at all."""
    with inside(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(timeout)
        sock.connect((address, port))
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
        return data.startswith(b"OK ")


def decisions(path: Path) -> list[tuple[str, str]]:
    """(ACCEPT|DENY, ip) for every line of a decisions file, oldest first."""
    out = []
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                out.append((parts[1], parts[2].rpartition(":")[0]))
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
