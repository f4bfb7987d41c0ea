"""How the demo talks: one narrated line per step, compact tables, and the checks that make it fail.

The demo is read by people (`make demo`) and by a test (`tests/privileged/test_demo_full.py`),
so every step is one `# ...` line, details are indented two spaces, and a check that does not
hold raises `DemoCheckFailed` (the demo then exits 1 with that message, never a traceback).

Interrupts are cooperative: the demo's signal handler calls `request_stop()`, and the next
`say` / `note` / `check` / `checkpoint` raises KeyboardInterrupt there, between steps. Raising it
from the handler itself could land inside pyroute2 (its asyncio loop, its forked helpers) or
between the kernel making a namespace and the lab recording it, and leak both.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


class DemoCheckFailed(Exception):
    """Something the demo shows did not happen (a ping, an annotation, a binding)."""


_stop_requests: list[int] = []


def request_stop(signum: int) -> None:
    _stop_requests.append(signum)


def clear_stop_requests() -> None:
    """Forget earlier requests (a new run in the same process, or nothing left to stop)."""
    _stop_requests.clear()


def checkpoint() -> None:
    """Raise KeyboardInterrupt if a stop was requested (a safe point to unwind from)."""
    if _stop_requests:
        raise KeyboardInterrupt


def say(text: str) -> None:
    checkpoint()
    print(f"\n# {text}", flush=True)


def note(text: str) -> None:
    checkpoint()
    print(f"  {text}", flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Columns as wide as their widest cell, two spaces apart, indented like `note`."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    sys.stdout.flush()


def check(ok: bool, what: str) -> None:
    """Print `ok: what` or raise DemoCheckFailed(what)."""
    if not ok:
        raise DemoCheckFailed(what)
    note(f"ok: {what}")
