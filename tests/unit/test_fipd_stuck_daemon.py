"""A thread stuck in a pod's network namespace does nothing more: the plug's undo stack does not
roll back (its actions would open sockets in that pod) and the announcer thread hands the error
to `on_stuck` (in fipd: log and exit 3) and stops. fipd itself exiting on it is
tests/privileged/test_fipd_stuck.py's."""

from __future__ import annotations

import ipaddress
import threading

import pytest

from bridge.errors import DatapathError, NamespaceStuck
from bridge.undo import UndoStack
from fipd import announcer as announcer_module
from fipd.announcer import Announcer

STUCK = NamespaceStuck("/var/run/netns/pod-a", "Operation not permitted")


def test_namespace_stuck_is_no_datapath_error() -> None:
    """So no `except DatapathError` in bridge/ or fipd/ answers it and goes on."""
    assert not isinstance(STUCK, DatapathError)
    assert str(STUCK) == (
        "a thread could not return from network namespace /var/run/netns/pod-a (Operation not permitted); "
        "the process must exit and be restarted"
    )


def test_undo_stack_does_not_roll_back_from_the_wrong_namespace() -> None:
    undone: list[str] = []
    with pytest.raises(NamespaceStuck) as caught, UndoStack() as undo:
        undo.push("delete veth a", lambda: undone.append("a"))
        undo.push("delete veth b", lambda: undone.append("b"))
        raise NamespaceStuck("/var/run/netns/pod-b", "Operation not permitted")
    assert undone == []
    assert caught.value.__notes__ == ["rollback skipped (2 action(s)): the thread is in the wrong namespace"]


def test_an_undo_action_that_gets_stuck_ends_the_rollback() -> None:
    undone: list[str] = []

    def stuck_action() -> None:
        raise STUCK

    with pytest.raises(NamespaceStuck) as caught, UndoStack() as undo:
        undo.push("delete veth a", lambda: undone.append("a"))
        undo.push("configure the pod", stuck_action)
        raise DatapathError("add route: File exists")
    assert undone == []  # the older action would run in the pod's namespace
    assert caught.value is STUCK
    assert str(caught.value.__cause__) == "add route: File exists"


def test_other_undo_failures_still_let_the_rest_roll_back() -> None:
    undone: list[str] = []

    def failing() -> None:
        raise DatapathError("delete veth b: No such device")

    with pytest.raises(DatapathError) as caught, UndoStack() as undo:
        undo.push("delete veth a", lambda: undone.append("a"))
        undo.push("delete veth b", failing)
        raise DatapathError("add route: File exists")
    assert undone == ["a"]
    assert caught.value.__notes__ == ["rollback: could not delete veth b: delete veth b: No such device"]


def test_announcer_hands_a_stuck_namespace_to_on_stuck_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []

    def announce(netns: str, ifname: str, ip: object, mac: str, *, count: int) -> None:
        if netns == "pod-stuck":
            raise STUCK
        if netns == "pod-gone":
            raise DatapathError("open announce socket on eth0 in pod-gone: No such device")
        sent.append(netns)

    monkeypatch.setattr(announcer_module, "announce", announce)
    called = threading.Event()
    seen: list[NamespaceStuck] = []

    def on_stuck(err: NamespaceStuck) -> None:
        seen.append(err)
        called.set()

    ann = Announcer(on_stuck=on_stuck)
    ip = ipaddress.ip_address("10.0.1.17")
    for netns in ("pod-gone", "pod-a", "pod-stuck", "pod-b"):
        ann.submit(netns, "eth0", ip, "0a:58:0a:00:01:11", 1)
    assert called.wait(5)
    ann._thread.join(5)
    assert not ann._thread.is_alive(), "the stuck thread must not announce anything more"
    assert seen == [STUCK]
    assert sent == ["pod-a"]  # pod-b is never announced from the stuck thread
