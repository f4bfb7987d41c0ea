"""Errors of the core layer.

    FipError                    every error fip raises on purpose
    └── InvalidInput            outside input that does not parse or validate (field, value, fix)

Other layers hang their own trees under `FipError` (see `fip.store.errors`). A message is written
for the person who must act on it: what was wrong, the value, and what to do instead.
"""

from __future__ import annotations


class FipError(Exception):
    """Base of every deliberate fip error; `str(err)` is a complete, human-readable message."""


class InvalidInput(FipError, ValueError):
    """Outside input was rejected. `field` names where it came from, `value` what was given."""

    def __init__(self, field: str, value: object, problem: str, fix: str = "") -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.fix = fix
        shown = repr(value) if not isinstance(value, str) else f'"{value}"'
        if len(shown) > 120:
            shown = shown[:117] + "..."
        msg = f"{field}: {shown} {problem}"
        if fix:
            msg += f"; {fix}"
        super().__init__(msg)
