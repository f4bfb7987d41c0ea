"""One step of a controller's worker loop, shared by the release and definitions workers.

Keys wait in the queue until this replica leads with synced caches (the gate); a key taken while
the gate closes goes back after 0.5 s. A lost store wakes the watchdog (`on_lost`) and the key
is retried after 1 s; store and API errors retry with the queue's back-off; anything else is
logged with its traceback and retried the same way. Every `get` is paired with `done`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import TypeVar

from controllers.gate import Gate
from controllers.metrics import ERRORS
from fip.kube.errors import KubeError
from fip.kube.workqueue import WorkQueue
from fip.store.errors import StateLost, StoreError

K = TypeVar("K", bound=Hashable)
log = logging.getLogger(__name__)


def work_once(
    queue: WorkQueue[K],
    gate: Gate,
    reconcile: Callable[[K], object],
    on_lost: Callable[[], None],
    *,
    where: str,
    describe: Callable[[K], str],
) -> None:
    """Take one key (waiting at most 0.5 s) and reconcile it, with the retry rules above."""
    if not gate.acting():
        gate.wait_acting(0.5)
        return
    key = queue.get(timeout=0.5)
    if key is None:
        return
    try:
        if not gate.acting():
            queue.add_after(key, 0.5)
            return
        reconcile(key)
        queue.forget(key)
    except StateLost:
        on_lost()
        queue.add_after(key, 1.0)
    except (StoreError, KubeError) as err:
        ERRORS.labels(where=where).inc()
        log.warning("%s: %s; retrying in %.1f s", describe(key), err, queue.retry(key))
    except Exception:
        ERRORS.labels(where=where).inc()
        log.exception("%s failed; retrying", describe(key))
        queue.retry(key)
    finally:
        queue.done(key)
