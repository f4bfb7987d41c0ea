"""Drive `fipctl` in-process against a MemoryStore: shared by the fipctl unit tests."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fip.cli.fipctl import main
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord
from fip.core.subnet import IPAddress
from fip.store.memory import MemoryStore
from fip.store.protocol import AllocateRequest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "subnets.yaml"
NOW = 1_800_000_000.0


class TtyInput(io.StringIO):
    """stdin that claims to be a terminal; `on_read` runs just before the answer is read."""

    def __init__(self, text: str, on_read: Callable[[], None] | None = None) -> None:
        super().__init__(text)
        self.on_read = on_read

    def isatty(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> str:
        if self.on_read is not None:
            self.on_read()
        return super().readline(size)


@dataclass
class Result:
    code: int
    out: str
    err: str


def fipctl(store: MemoryStore, *argv: str, stdin: io.StringIO | None = None, env: bool = True) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        list(argv),
        environ={"FIP_REDIS_URL": "memory://unit"} if env else {},
        stdin=stdin if stdin is not None else io.StringIO(""),
        stdout=out,
        stderr=err,
        opener=lambda url, field: store,
        clock=lambda: NOW,
    )
    return Result(code, out.getvalue(), err.getvalue())


def loaded_store() -> MemoryStore:
    store = MemoryStore()
    store.initialise()
    res = fipctl(store, "subnets", "apply", "-f", str(EXAMPLES))
    assert res.code == 0, res.err
    return store


def allocate(
    store: MemoryStore,
    owner: str,
    uid: str,
    *,
    subnet: str = "dc1-a",
    pod: str = "",
    policy: ReleasePolicy = ReleasePolicy.POD,
    created: float = NOW - 600,
    requested: IPAddress | None = None,
) -> AllocationRecord:
    key = OwnerKey.decode(owner)
    req = AllocateRequest(subnet, key, uid, pod or key.name, "node-1", policy, created, requested)
    return store.allocate(req)
