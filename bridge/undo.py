"""The undo stack every plug keeps, and the fault hook tests use to exercise it.

A plug calls `step(name)` before each step (the fault hook may raise there) and `push` an undo
action right after each thing it makes. The plug's steps run inside `with undo:`, which keeps
everything on success and on any failure (BaseException too: a cancelled plug must not leak)
runs `rollback(exc)` and lets the error go on. Actions run newest first; an action that fails
does not stop the others, it is attached to the original error as a note, so the operator sees
both what broke and what could not be cleaned up.

`NamespaceStuck` is the exception: the thread is inside a pod's namespace, so any socket an
action opens there would act on the wrong namespace. Nothing is rolled back (the process exits;
the pod namespace takes its links with it, the runtime's DEL or fipd's start-up sweep the rest),
and an action that gets stuck itself stops the rollback and raises.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from bridge.driver import FaultHook
from bridge.errors import NamespaceStuck


class UndoStack:
    def __init__(self, fault: FaultHook | None = None) -> None:
        self._fault = fault
        self._actions: list[tuple[str, Callable[[], object]]] = []

    def step(self, name: str) -> None:
        """Mark the start of plug step `name`; a test's fault hook may raise here."""
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
        """Open the block inside the netlink sockets' block: the undo actions still need them."""
        if exc is None:
            self.forget()
        else:
            self.rollback(exc)

    def rollback(self, exc: BaseException) -> None:
        if isinstance(exc, NamespaceStuck):
            skipped = len(self._actions)
            exc.add_note(f"rollback skipped ({skipped} action(s)): the thread is in the wrong namespace")
            self._actions.clear()
            return
        while self._actions:
            what, action = self._actions.pop()
            try:
                action()
            except NamespaceStuck as stuck:
                self._actions.clear()
                raise stuck from exc
            except Exception as undo_exc:  # keep undoing; report on the original error
                exc.add_note(f"rollback: could not {what}: {undo_exc}")

    def forget(self) -> None:
        """The plug succeeded: keep everything."""
        self._actions.clear()
