"""Output of fipctl: aligned text tables for people, JSON for scripts.

Every verb builds a list of rows (dicts with the same keys, values already JSON-friendly) plus
the column headers it shows; `emit` prints either a kubectl-style table or the rows as JSON.
The JSON keys are the stable interface for scripts; the table layout is for eyes only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TextIO

Row = Mapping[str, object]

FORMATS = ("table", "json")


def render_table(columns: Sequence[tuple[str, str]], rows: Sequence[Row]) -> str:
    """Columns are (HEADER, key) pairs; cells are left-aligned, three spaces apart."""
    cells = [[h for h, _ in columns]]
    cells += [[_cell(row.get(key)) for _, key in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    return str(value)


def emit(
    out: TextIO,
    fmt: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Row],
    empty: str = "",
) -> None:
    """Print `rows` as a table (or `empty` when there are none) or as a JSON list."""
    if fmt == "json":
        out.write(json.dumps(list(rows), indent=2, sort_keys=False) + "\n")
    elif rows:
        out.write(render_table(columns, rows))
    elif empty:
        out.write(empty + "\n")


def emit_object(out: TextIO, fmt: str, obj: Mapping[str, object], text: str) -> None:
    """Print one result: `text` for people, `obj` as JSON for scripts."""
    if fmt == "json":
        out.write(json.dumps(dict(obj), indent=2) + "\n")
    else:
        out.write(text + "\n")


def age(seconds: float) -> str:
    """kubectl-style age: 42s, 7m, 3h, 12d; negative clock skew shows as 0s."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 2 * 3600:
        return f"{s // 60}m"
    if s < 2 * 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"
