"""fipd's unix socket: where `fip-cni` hands over CNI requests.

Security (see docs: AWS VPC CNI #3739, Cilium CVE-2022-29179, containerd CVE-2020-15257): a
filesystem socket (never abstract), created with mode 0600 under a directory fipd makes 0700,
and every peer's SO_PEERCRED uid must be root (or fipd's own uid). Only the container runtime,
running as root on the host, can reach it.

Framing: one request per connection. The client writes one JSON object and shuts down its write
side; fipd answers one JSON object and closes. Requests are served concurrently, one thread per
connection (CNI calls are few and mostly wait on netlink or the API).

Start-up refuses to steal the socket of a live fipd (the path answers a connect); a stale file
left by a dead one is replaced. Shutdown closes the listener and removes the file, then lets the
requests in flight finish (bounded); containers are never touched (a restart disturbs no pod).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, str], str], dict[str, object]]
MAX_REQUEST = 2 << 20


class SocketInUse(Exception):
    """Another process answers on the socket path."""


class CNIServer:
    def __init__(self, path: Path, handler: Handler, *, read_timeout: float = 10.0) -> None:
        self.path = path
        self.handler = handler
        self.read_timeout = read_timeout
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._active = 0
        self._idle = threading.Condition()

    def bind(self) -> None:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)  # a directory fipd owns: closed to everyone else
        if self.path.exists() or self.path.is_symlink():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(self.path))
            except OSError:
                self.path.unlink()  # stale: its fipd is gone
            else:
                raise SocketInUse(f"{self.path}: another fipd is serving on this socket; stop it first")
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(128)
        self._sock = sock

    def serve_in_thread(self) -> None:
        if self._sock is None:
            self.bind()
        self._thread = threading.Thread(target=self.serve_forever, name="cni-server", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        assert self._sock is not None, "bind() first"
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            threading.Thread(target=self._serve, args=(conn,), name="cni-request", daemon=True).start()

    def stop(self, drain: float = 30.0) -> None:
        """Stop accepting, then wait up to `drain` seconds for requests in flight: a plug cut off
        halfway by process exit would skip its own undo."""
        self._stopping.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._idle:
            if not self._idle.wait_for(lambda: self._active == 0, timeout=drain):
                log.error("stopping with %d CNI request(s) still running", self._active)

    def _serve(self, conn: socket.socket) -> None:
        with self._idle:
            self._active += 1
        try:
            self._serve_one(conn)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _serve_one(self, conn: socket.socket) -> None:
        with conn:
            try:
                uid = _peer_uid(conn)
                if uid not in (0, os.getuid()):
                    log.warning("refused a request from uid %d", uid)
                    return
                conn.settimeout(self.read_timeout)
                raw = _read_all(conn)
                conn.settimeout(None)
                reply = self._dispatch(raw)
                conn.sendall(json.dumps(reply, separators=(",", ":")).encode())
            except (OSError, ValueError) as err:
                log.warning("CNI request connection failed: %s", err)

    def _dispatch(self, raw: bytes) -> dict[str, object]:
        try:
            msg = json.loads(raw)
            env, stdin = msg["env"], msg["stdin"]
            if not isinstance(env, dict) or not isinstance(stdin, str):
                raise TypeError("env must be an object, stdin a string")
        except (ValueError, KeyError, TypeError) as err:
            return {
                "error": {
                    "cniVersion": "1.0.0",
                    "code": 6,
                    "msg": "fipd could not decode the request",
                    "details": str(err),
                }
            }
        return self.handler({str(k): str(v) for k, v in env.items()}, stdin)


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _read_all(conn: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REQUEST:
            raise ValueError(f"request larger than {MAX_REQUEST} bytes")
        chunks.append(chunk)
