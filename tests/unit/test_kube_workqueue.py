"""The work queue: de-duplication, one worker per key, no change lost while processing, back-off."""

from __future__ import annotations

import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from fip.kube.workqueue import WorkQueue


def test_duplicates_collapse_and_order_is_fifo() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    for key in ["a", "b", "a", "c", "b"]:
        q.add(key)
    assert len(q) == 3
    assert [q.get(0), q.get(0), q.get(0), q.get(0)] == ["a", "b", "c", None]


def test_a_key_added_while_processing_comes_back_after_done_only() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add("a")
    assert q.get(0) == "a"
    q.add("a")
    assert q.get(0) is None  # never handed to a second worker at the same time
    q.done("a")
    assert q.get(0) == "a"
    q.done("a")
    assert q.get(0) is None


def test_retry_backs_off_exponentially_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue("t", base_delay=0.01, max_delay=0.04)
    delays = [q.retry("a") for _ in range(5)]
    assert delays == [0.01, 0.02, 0.04, 0.04, 0.04]
    assert q.retries("a") == 5
    q.forget("a")
    assert q.retries("a") == 0 and q.retry("a") == 0.01


def test_add_after_waits() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    start = time.monotonic()
    q.add_after("a", 0.1)
    assert q.get(0.01) is None
    assert q.get(1) == "a"
    assert time.monotonic() - start >= 0.1


def test_shutdown_wakes_blocked_workers() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    got: list[str | None] = []
    worker = threading.Thread(target=lambda: got.append(q.get()))
    worker.start()
    time.sleep(0.05)
    q.shutdown()
    worker.join(2)
    assert got == [None]
    q.add("late")
    assert q.get(0) is None


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from("abcde"), max_size=60))
def test_concurrent_workers_never_share_a_key_and_see_every_key(keys: list[str]) -> None:
    q: WorkQueue[str] = WorkQueue("t")
    active: set[str] = set()
    seen: set[str] = set()
    lock = threading.Lock()
    clash: list[str] = []

    def work() -> None:
        while (key := q.get(0.05)) is not None:
            with lock:
                if key in active:
                    clash.append(key)
                active.add(key)
                seen.add(key)
            time.sleep(0.0005)
            with lock:
                active.discard(key)
            q.done(key)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for key in keys:
        q.add(key)
    for w in workers:
        w.join(5)
    assert not clash
    assert seen == set(keys)
