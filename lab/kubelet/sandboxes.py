"""The kubelet's record of the pod sandboxes it made: one JSON file per pod UID.

This is the lab's containerd metadata store: what a restarted kubelet needs to find its pods'
namespaces again and to run CNI DEL for a pod the API server no longer knows (the UID, the
container ID, the netns, the cached ADD result libcni passes to DEL as prevResult). Files are
written to a temp name and renamed, so a crash never leaves half a record; a record that does
not parse is ignored (and its netns is still swept by prefix when the lab goes down).

Names are derived from the pod UID, so a sandbox is always findable: the netns is
`<prefix>-p-<uid>`, the CNI container ID sha256(uid) in hex (the shape of containerd's IDs).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.kubelet.cni import Sandbox

Obj = dict[str, Any]


def netns_name(prefix: str, uid: str) -> str:
    return f"{prefix}-p-{uid}"


def container_id(uid: str) -> str:
    return hashlib.sha256(uid.encode()).hexdigest()


@dataclass
class Record:
    namespace: str
    name: str
    uid: str
    netns: str  # the namespace's name (under /var/run/netns)
    pod_ip: str | None = None
    result: Obj = field(default_factory=dict)  # the CNI ADD result, for DEL's prevResult
    networked: bool = True  # False: no CNI was run (host network, or no fip.io/ip)

    @property
    def sandbox(self) -> Sandbox:
        return Sandbox(
            self.namespace, self.name, self.uid, container_id(self.uid), f"/var/run/netns/{self.netns}"
        )


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, rec: Record) -> None:
        path = self.root / f"{rec.uid}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(rec)))
        tmp.replace(path)

    def drop(self, uid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / f"{uid}.json").unlink()

    def all(self) -> list[Record]:
        out = []
        for path in sorted(self.root.glob("*.json")):
            with contextlib.suppress(OSError, ValueError, TypeError):
                out.append(Record(**json.loads(path.read_text())))
        return out
