"""Gratuitous ARP / unsolicited NA for freshly plugged pods, off the CNI request's critical path.

The switch must learn a floating IP's new port when the IP moves (ARCHITECTURE, flow 2), but the
runtime need not wait for it: sending costs the interval between repeated announcements (20 ms
each), while the pod's containers start only after the CNI result anyway. (The RCU grace period
an AF_PACKET socket's close waits for, ~10-30 ms, `bridge.garp` already leaves to a thread.)
fipd therefore plugs with `garp_count=0` and hands the announcement to this one background
thread. A pod that is gone by then (DEL right after ADD) is skipped with a debug log; nothing else
depends on the announcement. A thread stuck in the pod's namespace (`NamespaceStuck`) is not
skipped: this one thread would send every later announcement from there, so fipd exits
(`fipd.stopping.namespace_stuck`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address

from bridge.errors import DatapathError, NamespaceStuck
from bridge.garp import announce
from fipd.stopping import namespace_stuck

log = logging.getLogger(__name__)

Job = tuple[str, str, IPv4Address | IPv6Address, str, int]


class Announcer:
    def __init__(self, on_stuck: Callable[[NamespaceStuck], object] = namespace_stuck) -> None:
        """`on_stuck` ends the process (tests record the call instead); the thread stops either way."""
        self._on_stuck = on_stuck
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="garp", daemon=True)
        self._thread.start()

    def submit(self, netns: str, ifname: str, ip: IPv4Address | IPv6Address, mac: str, count: int) -> None:
        if count > 0:
            self._jobs.put((netns, ifname, ip, mac, count))

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            netns, ifname, ip, mac, count = job
            try:
                announce(netns, ifname, ip, mac, count=count)
            except NamespaceStuck as err:
                self._on_stuck(err)
                return
            except DatapathError as err:
                log.debug("announcing %s in %s skipped: %s", ip, netns, err)
            except Exception:
                log.exception("announcing %s in %s failed", ip, netns)
