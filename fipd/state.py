"""Per-container state: what fipd plugged, so DEL and CHECK work after a restart.

One JSON file per (container ID, interface) under the state directory (default
/var/lib/fip/containers, on the host's disk: it must outlive the fipd pod). A file is written
with write-to-temp, fsync, rename, fsync-directory, so after a crash it is either the old or the
new version, never half of one. The file exists from the moment a plug succeeded until the
unplug succeeded; a file whose unplug failed stays so the next DEL (or the start-up sweep) can
retry. Container IDs are validated by `fipd.cnispec` (no '/', no '..'), so a name can never
escape the directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fip.core.errors import InvalidInput


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

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, container_id: str, ifname: str) -> Path:
        if "/" in container_id or "/" in ifname or container_id.startswith(".") or "\0" in container_id:
            raise InvalidInput("container", f"{container_id}/{ifname}", "is not a safe file name")
        return self.root / f"{container_id}_{ifname}.json"

    def get(self, container_id: str, ifname: str) -> ContainerState | None:
        try:
            data = json.loads(self._path(container_id, ifname).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise InvalidInput(
                "state file", str(self._path(container_id, ifname)), f"is unreadable ({err})", "remove it"
            ) from None
        return ContainerState(**data)

    def put(self, state: ContainerState) -> None:
        path = self._path(state.container_id, state.ifname)
        tmp = path.with_name(f".{path.name}.tmp")
        data = json.dumps(asdict(state), separators=(",", ":")).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self._sync_dir()

    def remove(self, container_id: str, ifname: str) -> None:
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
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
