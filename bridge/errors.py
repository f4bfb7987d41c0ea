"""Errors of the datapath layer (`bridge/`).

    FipError                         (fip.core.errors)
    └── DatapathError                a pod's network could not be plugged, unplugged or checked
        ├── NetlinkError             the kernel refused a netlink request (operation, object, reason)
        │   └── LinkNotFound         a named link / netns the caller relies on does not exist
        ├── NoFreeVF                 SR-IOV: every VF of the PF is taken (or none are enabled)
        ├── CheckFailed              CNI CHECK found the pod's network differs from what was plugged
        └── InjectedFault            raised by a test's fault hook at a named plug step
    └── NamespaceStuck               a thread could not return to its own network namespace

`NamespaceStuck` is deliberately not a `DatapathError`: every `except DatapathError` in the
datapath and in fipd turns a failure into an answer and goes on, but a thread left inside a pod's
namespace must do nothing more (each socket it opens, each sysctl it writes would land in that
pod). The undo stack does not roll back on it, and fipd exits on it (fipd.stopping).

`bridge.netlink` is the only place that catches pyroute2's errors; it re-raises them as
`NetlinkError` with `raise ... from`, so callers never see a pyroute2 type. Every message says
what was attempted, on which object, and what to check.
"""

from __future__ import annotations

from fip.core.errors import FipError


class DatapathError(FipError):
    """A plug / unplug / check step failed; `str(err)` is the whole story for the operator."""


class NetlinkError(DatapathError):
    """The kernel refused a request. `op` is what we asked, `target` the object, `reason` the errno text."""

    def __init__(self, op: str, target: str, reason: str, fix: str = "", code: int | None = None) -> None:
        self.op = op
        self.target = target
        self.reason = reason
        self.code = code  # the errno, when the kernel gave one
        msg = f"{op} {target}: {reason}"
        if fix:
            msg += f"; {fix}"
        super().__init__(msg)


class LinkNotFound(NetlinkError):
    """A link or namespace named by configuration is missing (e.g. the parent NIC)."""


class NoFreeVF(DatapathError):
    """SR-IOV: no virtual function of the physical function is free to hand to a pod."""


class CheckFailed(DatapathError):
    """CHECK: `differences` lists each way the pod's network differs from the plug request."""

    def __init__(self, container_id: str, differences: list[str]) -> None:
        self.container_id = container_id
        self.differences = list(differences)
        super().__init__(f"container {container_id}: network differs from plug: " + "; ".join(differences))


class NamespaceStuck(FipError):
    """`setns(2)` back to the thread's own network namespace failed: the thread is still inside
    `netns`. Nothing can repair that from within the thread; the process must exit (never catch
    and go on)."""

    def __init__(self, netns: str, reason: str) -> None:
        self.netns = netns
        self.reason = reason
        super().__init__(
            f"a thread could not return from network namespace {netns} ({reason}); "
            "the process must exit and be restarted"
        )


class InjectedFault(DatapathError):
    """Raised on purpose by a fault hook (tests) at plug step `step`."""

    def __init__(self, step: str) -> None:
        self.step = step
        super().__init__(f"fault injected at plug step {step!r}")
