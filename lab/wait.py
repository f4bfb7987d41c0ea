"""The one polling helper of the lab and the tests: wait until something holds, or say what did not.

    pod = wait_for(lambda: running_pod("web-0"), 30, "web-0 Running with an IP")

`predicate` is called every `interval` seconds until it returns a truthy value, which is returned
(so a probe can hand back what it found); after `timeout` seconds `WaitTimeout` says what was
awaited, for how long and what the predicate returned last. `WaitTimeout` is an AssertionError so
a test that times out fails (not errors) with that message. An exception raised by the predicate
propagates at once: a probe that cannot run is a different failure from a state not yet reached.

`tick` (optional) runs before every poll: the demo passes its Ctrl-C checkpoint there.
"""

from __future__ import annotations

import reprlib
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_shown = reprlib.Repr()
_shown.maxstring = 200
_shown.maxother = 200


class WaitTimeout(AssertionError):
    """`what` did not happen within `timeout` seconds; `last` is the predicate's last answer."""

    def __init__(self, what: str, timeout: float, last: object) -> None:
        self.what = what
        self.timeout = timeout
        self.last = last
        super().__init__(f"timed out after {timeout:g} s waiting for {what} (last: {_shown.repr(last)})")


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 10.0,
    what: str = "the condition",
    *,
    interval: float = 0.05,
    tick: Callable[[], None] | None = None,
) -> T:
    """The predicate's first truthy value; WaitTimeout once `timeout` seconds have passed.

    The predicate runs at least once, and once more at the deadline, so a short timeout never
    fails a condition that already holds."""
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
        last = predicate()
        if last:
            return last
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(what, timeout, last)
        time.sleep(min(interval, left))
