"""Per-container state: what fipd plugged, so DEL and CHECK work after a restart.

One JSON file per (container ID, interface) under the state directory (default
/run/fip/containers, a host path: it must outlive the fipd pod, not the host — after a reboot
every pod sandbox is gone and the runtime's DELs find nothing to do). A file is written to a
temp name and renamed, so a fipd crash leaves the old or the new version, never half of one.
fsync is off by default (on tmpfs /run it is a no-op anyway, and on a disk it costs milliseconds
per ADD for a guarantee only a host crash would need); `fsync=True` adds it for disk-backed
dirs. A file that does not parse (torn by a host crash, edited) is moved aside as `*.broken`
with an error logged and treated as absent. The file exists from the moment a plug succeeded until the
unplug succeeded; a file whose unplug failed stays so the next DEL (or the start-up sweep) can
retry. Container IDs are validated by `fipd.cnispec` (no '/', no '..'), so a name can never
escape the directory.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path

from fip.core.errors import InvalidInput

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ContainerState:
    """Everything DEL / CHECK / the start-up sweep need, without asking Kubernetes."""

    container_id: str
    ifname: str
    netns: str
    namespace: str
    pod: str
    pod_uid: str
    ip: str
    prefix: int
    gateway: str
    vlan: int
    subnet: str
    mac: str
    host_ifname: str
    driver: dict[str, str] = field(default_factory=dict)
    result: dict[str, object] = field(default_factory=dict)
    created_at: float = 0.0


class StateDir:
    """The state directory. Thread-safe as long as callers serialise per container (fipd locks)."""

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = root
        self.fsync = fsync
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._by_ip = {s.ip: (s.container_id, s.ifname) for s in self.all()}

    def holder(self, ip: str) -> tuple[str, str] | None:
        """(container ID, ifname) whose state holds `ip`, from an index kept in memory."""
        with self._lock:
            return self._by_ip.get(ip)

    def _path(self, container_id: str, ifname: str) -> Path:
        if "/" in container_id or "/" in ifname or container_id.startswith(".") or "\0" in container_id:
            raise InvalidInput("container", f"{container_id}/{ifname}", "is not a safe file name")
        return self.root / f"{container_id}_{ifname}.json"

    def get(self, container_id: str, ifname: str) -> ContainerState | None:
        path = self._path(container_id, ifname)
        try:
            return ContainerState(**json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as err:
            log.error("state file %s is unreadable (%s); moved aside as .broken", path, err)
            path.replace(path.with_suffix(".broken"))
            return None

    def put(self, state: ContainerState) -> None:
        path = self._path(state.container_id, state.ifname)
        tmp = path.with_name(f".{path.name}.tmp")
        # shallow: the fields are plain values and dicts (asdict deep-copies; ~0.1 ms per ADD)
        plain = {f.name: getattr(state, f.name) for f in fields(state)}
        data = json.dumps(plain, separators=(",", ":")).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self._sync_dir()
        with self._lock:
            self._by_ip[state.ip] = (state.container_id, state.ifname)

    def remove(self, container_id: str, ifname: str) -> None:
        with self._lock:
            for ip, who in list(self._by_ip.items()):
                if who == (container_id, ifname):
                    del self._by_ip[ip]
        try:
            self._path(container_id, ifname).unlink()
        except FileNotFoundError:
            return
        self._sync_dir()

    def all(self) -> list[ContainerState]:
        """Every readable state; unreadable files are skipped (the caller logs `broken()`)."""
        out = []
        for path in sorted(self.root.glob("*.json")):
            try:
                out.append(ContainerState(**json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                continue
        return out

    def _sync_dir(self) -> None:
        if not self.fsync:
            return
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
