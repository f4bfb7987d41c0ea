"""The undo stack every plug keeps (`fip.core.undo.UndoStack` with fipd's one exception).

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

from bridge.errors import NamespaceStuck
from fip.core.undo import UndoStack as _Base


class UndoStack(_Base):
    def __enter__(self) -> UndoStack:
        return self

    def fatal(self, err: Exception) -> bool:
        return isinstance(err, NamespaceStuck)

    def rollback(self, exc: BaseException) -> None:
        if isinstance(exc, NamespaceStuck):
            exc.add_note(
                f"rollback skipped ({self.pending()} action(s)): the thread is in the wrong namespace"
            )
            self.forget()
            return
        super().rollback(exc)
