"""Errors of the eBPF ClusterIP layer (`bpf/`).

    FipError                        (fip.core.errors)
    └── BpfError                    something about the ClusterIP datapath failed
        ├── BpfUnavailable          this node cannot run it: no bcc, no BPF, no kernel headers,
        │                           no bpffs, no cgroup2 (fipd keeps plugging pods without it)
        ├── CompileFailed           bcc could not compile or the kernel refused a program
        ├── AttachFailed            a program could not be attached to a pod (tc) or cgroup
        └── MapFull                 a map update was refused because the map is full

`bpf.loader` is the only place that touches bcc; it turns bcc's bare `Exception`s into these,
chaining the cause. Messages say what was attempted, on what, and what to do.
"""

from __future__ import annotations

from fip.core.errors import FipError


class BpfError(FipError):
    """The ClusterIP datapath could not do what was asked; `str(err)` says what and why."""


class BpfUnavailable(BpfError):
    """This node cannot run the datapath at all; ClusterIP stays unavailable to its fip pods."""


class CompileFailed(BpfError):
    """The C programs did not compile, or the kernel's verifier refused one."""


class AttachFailed(BpfError):
    """Attaching (or detaching) a program to an interface or a cgroup failed."""


class MapFull(BpfError):
    """The kernel refused a map update (E2BIG / ENOMEM): the map holds as much as it can."""
