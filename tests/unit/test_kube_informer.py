"""The informer against a scripted client: back-off when every watch ends at once, immediate
re-watch after a watch that delivered, `synced` cleared while stale, diffs replayed on re-list."""

from __future__ import annotations

import threading
import time
from typing import Any

from fip.kube.errors import Expired, KubeUnavailable
from fip.kube.informer import Informer
from fip.kube.resources import PODS
from lab.wait import wait_for

Obj = dict[str, Any]


def pod(name: str, rv: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": rv}}


class Script:
    """A fake client: `lists` are answered in turn (the last repeats); `watches` likewise, each a
    list of events or an exception to raise."""

    def __init__(self, lists: list[Obj], watches: list[Any]) -> None:
        self.lists, self.watches = lists, watches
        self.listed: list[float] = []
        self.watched: list[str] = []

    def list(self, res: Any, namespace: Any = None, **_: Any) -> Obj:
        self.listed.append(time.monotonic())
        return self.lists[min(len(self.listed) - 1, len(self.lists) - 1)]

    def watch(self, res: Any, rv: str, namespace: Any = None, **_: Any) -> Any:
        self.watched.append(rv)
        step = self.watches[min(len(self.watched) - 1, len(self.watches) - 1)]
        if isinstance(step, Exception):
            raise step
        return _Events(step)


class _Events:
    def __init__(self, events: list[Obj]) -> None:
        self.events = events

    def __iter__(self) -> Any:
        return iter(self.events)

    def close(self) -> None:
        pass


def running(inf: Informer, seconds: float) -> None:
    inf.start()
    time.sleep(seconds)
    inf.stop()


def test_watches_ending_at_once_back_off() -> None:
    script = Script([{"metadata": {"resourceVersion": "7"}, "items": []}], [[]])
    inf = Informer(script, PODS)
    running(inf, 0.3)
    assert script.watched == ["7", "7"]  # the second waits out the first back-off (0.2 s)
    assert len(script.listed) == 1 and inf.synced.is_set()


def test_watches_that_deliver_are_renewed_at_once_from_the_last_version() -> None:
    script = Script([{"metadata": {"resourceVersion": "7"}, "items": []}], [])
    script.watches = [[{"type": "MODIFIED", "object": pod("p", str(8 + i))}] for i in range(1000)]
    inf = Informer(script, PODS)
    running(inf, 0.2)
    assert len(script.watched) > 10
    assert script.watched[:3] == ["7", "8", "9"]
    assert inf.get("default/p") is not None


def test_bookmarks_move_the_version_without_events() -> None:
    bookmark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "42"}}}
    script = Script([{"metadata": {"resourceVersion": "7"}, "items": []}], [[bookmark], []])
    seen: list[str] = []
    inf = Informer(script, PODS)
    inf.add_handler(lambda kind, obj, _old: seen.append(kind))
    running(inf, 0.1)
    assert script.watched[:2] == ["7", "42"] and seen == []


def test_expired_relists_and_replays_the_difference_once() -> None:
    first = {"metadata": {"resourceVersion": "5"}, "items": [pod("a", "1"), pod("b", "2")]}
    second = {"metadata": {"resourceVersion": "9"}, "items": [pod("b", "8"), pod("c", "9")]}
    script = Script([first, second], [Expired(410, "too old"), []])
    seen: list[tuple[str, str]] = []
    inf = Informer(script, PODS)
    inf.add_handler(lambda kind, obj, _old: seen.append((kind, obj["metadata"]["name"])))
    inf.start()
    try:
        wait_for(lambda: len(script.listed) >= 2, timeout=3, what="a second list")
        wait_for(lambda: ("DELETED", "a") in seen, timeout=3, what="the replayed delete")
    finally:
        inf.stop()
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "b"), ("ADDED", "c"), ("DELETED", "a")]
    assert sorted(inf.keys()) == ["default/b", "default/c"]


def test_a_failed_watch_clears_synced_until_the_relist() -> None:
    gate = threading.Event()
    script = Script([{"metadata": {"resourceVersion": "1"}, "items": [pod("a", "1")]}], [])

    def listing(res: Any, namespace: Any = None, **_: Any) -> Obj:
        script.listed.append(time.monotonic())
        if len(script.listed) > 1 and not gate.wait(5):
            raise KubeUnavailable(0, "still down")
        return script.lists[0]

    script.list = listing  # type: ignore[method-assign]
    script.watches = [KubeUnavailable(0, "connection refused")]
    inf = Informer(script, PODS)
    inf.start()
    try:
        wait_for(lambda: len(script.listed) >= 2, timeout=3, what="the re-list")
        assert not inf.synced.is_set()
        assert inf.get("default/a") is None  # never stale data presented as current
        script.watches = [[]]  # the server is back
        gate.set()
        wait_for(inf.synced.is_set, timeout=3, what="synced again")
        assert inf.get("default/a") is not None
    finally:
        gate.set()
        inf.stop()


def test_a_failing_handler_does_not_stop_the_informer() -> None:
    script = Script([{"metadata": {"resourceVersion": "1"}, "items": [pod("a", "1"), pod("b", "1")]}], [[]])
    seen: list[str] = []

    def handler(kind: str, obj: Obj, _old: Obj | None) -> None:
        if obj["metadata"]["name"] == "a":
            raise RuntimeError("boom")
        seen.append(obj["metadata"]["name"])

    inf = Informer(script, PODS)
    inf.add_handler(handler)
    running(inf, 0.05)
    assert seen == ["b"]


def test_resync_replays_every_object() -> None:
    script = Script([{"metadata": {"resourceVersion": "1"}, "items": [pod("a", "1")]}], [[]])
    seen: list[str] = []
    inf = Informer(script, PODS, resync=0.05)
    inf.add_handler(lambda kind, obj, old: seen.append(kind))
    running(inf, 0.3)
    assert seen[0] == "ADDED" and seen.count("MODIFIED") >= 3
