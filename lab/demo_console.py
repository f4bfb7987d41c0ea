"""How the demo talks: one narrated line per step, compact tables, and the checks that make it fail.

The demo is read by people (`make demo`) and by a test (`tests/privileged/test_demo_full.py`),
so every step is one `# ...` line, details are indented two spaces, and a check that does not
hold raises `DemoCheckFailed` (the demo then exits 1 with that message, never a traceback).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


class DemoCheckFailed(Exception):
    """Something the demo shows did not happen (a ping, an annotation, a binding)."""


def say(text: str) -> None:
    print(f"\n# {text}", flush=True)


def note(text: str) -> None:
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
