"""Errors of the core layer.

    FipError                    every error fip raises on purpose
    └── InvalidInput            outside input that does not parse or validate (field, value, fix)

Other layers hang their own trees under `FipError` (see `fip.store.errors`). A message is written
for the person who must act on it: what was wrong, the value, and what to do instead.
"""

from __future__ import annotations

import reprlib


class FipError(Exception):
    """Base of every deliberate fip error; `str(err)` is a complete, human-readable message."""


class InvalidInput(FipError, ValueError):
    """Outside input was rejected. `field` names where it came from, `value` what was given."""

    def __init__(self, field: str, value: object, problem: str, fix: str = "", where: str = "") -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.fix = fix
        self.where = where
        msg = f"{_printable(field)}: {_shown(value)} {_escaped(problem)}"
        if fix:
            msg += f"; {_escaped(fix)}"
        if where:
            msg = f"{_printable(where)}: {msg}"
        super().__init__(msg)

    def within(self, where: str) -> InvalidInput:
        """The same error, located in a named object (e.g. `Subnet "dc1-a"`) for the message."""
        return InvalidInput(self.field, self.value, self.problem, self.fix, where)


def _shown(value: object) -> str:
    """The value as the person wrote it, quoted, bounded and free of control characters."""
    shown = f'"{value[:200]}"' if isinstance(value, str) else reprlib.repr(value)
    return _printable(shown)


def _printable(text: str) -> str:
    """Escaped and at most 120 characters."""
    text = _escaped(text[:200])
    return text if len(text) <= 120 else text[:117] + "..."


def _escaped(text: str) -> str:
    """Control and other unprintable characters escaped: input cannot forge log lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
