"""API calls a stopping fipd does not wait for.

At SIGTERM the CNI requests in flight get up to the drain time to finish, but one that waits on
the API server (a GET of its pod, this node's subnets) must not hold the exit that long: an API
server that accepts connections and never answers (stalled, or its host frozen) keeps such a
call blocked for the read timeout, and urllib3 retries it. The request thread was seen so,
in `socket.readinto` under `KubeClient.get_pod`, with fipd's main thread in `CNIServer.stop`
waiting for it (tests/privileged/test_fipd_shutdown.py).

`Stopping.call(fn)` therefore runs `fn` in a daemon thread and returns its result, or raises
`KubeUnavailable` ("fipd is stopping") as soon as `stop()` was called: fipd answers the request
with CNI code 11 (try again later; the runtime retries it against the next fipd) and exits. The
abandoned call ends with the process (fipd exits with `os._exit`, see `fipd.cli`). Datapath work
is never cut short this way: only the API calls go through here.

`namespace_stuck(err)` is the other way fipd stops: at once, with exit code 3, when a thread could
not return from a pod's network namespace (`bridge.errors.NamespaceStuck`). That thread would
open every later socket and write every later sysctl in that pod, and nothing inside the process
can move it back, so fipd does not answer, drain or sweep: it logs why and ends; the DaemonSet
restarts it, the runtime retries the request (fip-cni reports the closed connection as code 11),
and the new process starts clean. Requests in flight in other threads end with it, as they would
at a crash: their runtimes retry them, the start-up sweep and DEL clean up.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn, TypeVar

from fip.kube.errors import KubeUnavailable

T = TypeVar("T")
log = logging.getLogger("fipd")
EXIT_NAMESPACE_STUCK = 3


def namespace_stuck(err: BaseException) -> NoReturn:
    """Log why and end the process now with EXIT_NAMESPACE_STUCK (see the module docstring)."""
    log.critical(
        "thread %s: %s; fipd exits with code %d (its DaemonSet restarts it)",
        threading.current_thread().name, err, EXIT_NAMESPACE_STUCK,
    )  # fmt: skip
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(EXIT_NAMESPACE_STUCK)


class Stopping:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._waiting: set[threading.Event] = set()

    def stop(self) -> None:
        """Make every `call` in progress, and every later one, raise KubeUnavailable now."""
        with self._lock:
            self._stopped = True
            for done in self._waiting:
                done.set()

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """`fn()`'s result or exception; KubeUnavailable if fipd stops first (`what` names the
        call in that message)."""
        done = threading.Event()
        with self._lock:
            if self._stopped:
                raise KubeUnavailable(0, f"{what}: fipd is stopping")
            self._waiting.add(done)
        results: list[T] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                results.append(fn())
            except BaseException as err:  # raised in the caller's thread below
                errors.append(err)
            finally:
                done.set()

        threading.Thread(target=run, name=f"api: {what}", daemon=True).start()
        try:
            done.wait()
        finally:
            with self._lock:
                self._waiting.discard(done)
        if errors:
            raise errors[0]
        if not results:
            raise KubeUnavailable(0, f"{what}: fipd is stopping")
        return results[0]
