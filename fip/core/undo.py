"""An undo stack: the shape every multi-step operation that must leave nothing behind uses.

`step(name)` marks the start of a step (a test's fault hook may raise there); `push(what, action)`
registers how to undo what was just made. The steps run inside `with undo:`: on success
everything is kept; on any failure (BaseException too: a cancelled operation must not leak) the
actions run newest first and the error goes on. An action that fails does not stop the others:
it is attached to the original error as a note, so the operator sees both what broke and what
could not be cleaned up. `fatal(err)` names errors of an action that must stop the rollback
instead (fipd's NamespaceStuck); `rollback` may be extended for errors after which nothing may be
rolled back at all.

Used by the bridge's plugs (`bridge.undo`) and the extender's bind (allocate -> Binding).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

FaultHook = Callable[[str], None]


class UndoStack:
    def __init__(self, fault: FaultHook | None = None) -> None:
        self._fault = fault
        self._actions: list[tuple[str, Callable[[], object]]] = []

    def step(self, name: str) -> None:
        """Mark the start of step `name`; a test's fault hook may raise here."""
        if self._fault is not None:
            self._fault(name)

    def push(self, what: str, action: Callable[[], object]) -> None:
        """Register how to undo what was just made; `what` appears in a rollback failure note."""
        self._actions.append((what, action))

    def __enter__(self) -> UndoStack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.forget()
        else:
            self.rollback(exc)

    def fatal(self, err: Exception) -> bool:
        """Whether an undo action's error stops the rollback (and is raised from `exc`)."""
        return False

    def rollback(self, exc: BaseException) -> None:
        while self._actions:
            what, action = self._actions.pop()
            try:
                action()
            except Exception as undo_exc:  # keep undoing; report on the original error
                if self.fatal(undo_exc):
                    self._actions.clear()
                    raise undo_exc from exc
                exc.add_note(f"rollback: could not {what}: {undo_exc}")

    def forget(self) -> None:
        """The operation succeeded: keep everything."""
        self._actions.clear()

    def pending(self) -> int:
        return len(self._actions)
