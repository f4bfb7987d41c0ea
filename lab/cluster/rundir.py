"""The run directory of one `fip-lab up`: everything the lab writes lives here.

    <run>/state.json          phase, namespace prefix, ports, supervisor PID, components, events
    <run>/kubeconfig          for kubectl, the official client and `fipctl check`
    <run>/logs/<name>.log     one per component (and supervisor.log)
    <run>/pids/<name>.pid
    <run>/redis/              the AOF
    <run>/nodes/<node>/       fipd socket and state, the node's CNI bin and conf dirs, sandboxes
    <run>/legacy/<subnet>.allow, .decisions    a legacy host's whitelist and its ACCEPT/DENY log
    <run>/scheduler-config.yaml

The default is `<tmp>/fip-lab` (env FIP_LAB_RUN_DIR overrides), so `status` and `down` find the
lab `up` made without being told. `state.json` is written before anything is created and
replaced atomically, so `down` can always learn the prefix of what to remove.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def default_run_dir() -> Path:
    return Path(os.environ.get("FIP_LAB_RUN_DIR") or Path(tempfile.gettempdir()) / "fip-lab")


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def prefix(self) -> str:
        return str((self.read() or {}).get("prefix", ""))

    def mkdir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def node(self, name: str) -> Path:
        return self.mkdir("nodes", name)

    def legacy_allow(self, subnet: str) -> Path:
        return self.mkdir("legacy") / f"{subnet}.allow"

    def legacy_decisions(self, subnet: str) -> Path:
        return self.mkdir("legacy") / f"{subnet}.decisions"

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_name(f"state.json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        tmp.replace(self.state_file)

    def update(self, **changes: Any) -> dict[str, Any]:
        state = self.read() or {}
        state.update(changes)
        self.write(state)
        return state

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = self.log(name).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
