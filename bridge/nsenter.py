"""Run a short piece of code with the calling thread inside another network namespace.

Used for what netlink cannot do: opening an AF_PACKET socket inside a pod (gratuitous ARP) and
writing the pod's / a node's `/proc/sys/net` sysctls (those files show the namespace of the
thread that opens them). `setns(2)` with CLONE_NEWNET changes only the calling thread, so other
threads of fipd are unaffected; the thread is always switched back, and if switching back fails
the thread is left inside the other namespace, so that raises `bridge.errors.NamespaceStuck`
(never swallow it: it is not a `DatapathError`, and fipd exits on it).
Python 3.11 has no `os.setns`, hence ctypes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator

from bridge.errors import DatapathError, LinkNotFound, NamespaceStuck
from bridge.linkinfo import netns_path

__all__ = ["NamespaceStuck", "inside", "read_sysctl", "write_sysctl"]

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise DatapathError(f"enter network namespace {what}: {os.strerror(err)}")


@contextlib.contextmanager
def inside(netns: str | None) -> Iterator[None]:
    """Run the body in `netns` (name or path; None = stay where we are)."""
    if netns is None:
        yield
        return
    path = netns_path(netns)
    try:
        target = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise LinkNotFound(
            "enter netns", netns, "no such network namespace", "is the pod still there?"
        ) from None
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target, netns)
        try:
            yield
        finally:
            if _libc.setns(own, _CLONE_NEWNET) != 0:
                raise NamespaceStuck(netns, os.strerror(ctypes.get_errno()))
    finally:
        os.close(target)
        os.close(own)


def write_sysctl(netns: str | None, key: str, value: str) -> None:
    """Write `net.*` sysctl `key` (dotted, e.g. "net.ipv4.ip_forward") inside `netns`."""
    path = "/proc/sys/" + key.replace(".", "/")
    with inside(netns):
        try:
            with open(path, "w", encoding="ascii") as fh:
                fh.write(value)
        except OSError as exc:
            raise DatapathError(
                f"set sysctl {key}={value} in {netns or 'own namespace'}: {exc.strerror}"
            ) from exc


def read_sysctl(netns: str | None, key: str) -> str:
    path = "/proc/sys/" + key.replace(".", "/")
    with inside(netns):
        try:
            with open(path, encoding="ascii") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise DatapathError(f"read sysctl {key} in {netns or 'own namespace'}: {exc.strerror}") from exc
