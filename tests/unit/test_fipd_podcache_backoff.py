"""The pod cache does not watch in a busy loop when the server ends every watch at once (an API
server on its way out), yet watches again at once after a watch that delivered events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fipd.podcache import NodePodCache

Obj = dict[str, Any]


def run_for(cache: NodePodCache, seconds: float) -> None:
    cache.start()
    time.sleep(seconds)
    cache.stop()


def test_watches_ending_at_once_back_off() -> None:
    calls: list[str] = []

    def watch(rv: str) -> Iterator[Obj]:
        calls.append(rv)
        return iter(())

    cache = NodePodCache(lambda: {"metadata": {"resourceVersion": "7"}, "items": []}, watch)
    run_for(cache, 0.3)
    assert calls == ["7"]  # the second watch waits out the first back-off (0.5 s)
    assert cache.synced


def test_watches_that_deliver_events_are_renewed_at_once() -> None:
    calls: list[str] = []

    def watch(rv: str) -> Iterator[Obj]:
        calls.append(rv)
        pod = {"metadata": {"name": "p", "namespace": "default", "resourceVersion": str(len(calls) + 7)}}
        return iter([{"type": "MODIFIED", "object": pod}])

    cache = NodePodCache(lambda: {"metadata": {"resourceVersion": "7"}, "items": []}, watch)
    run_for(cache, 0.2)
    assert len(calls) > 10
    assert calls[:3] == ["7", "8", "9"]  # each watch resumes from the last event's resourceVersion
    assert cache.get("default", "p") is not None
