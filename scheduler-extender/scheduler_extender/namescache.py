"""The NodeNames arrays kube-scheduler sends, decoded once and reused.

With `nodeCacheCapable` and `percentageOfNodesToScore: 100` (the shipped configuration),
kube-scheduler sends every filter the same array of all node names for as long as the nodes do
not change, and prioritize gets filter's answer, which is that same array whenever every node
fits. Turning 5,000 names into Python strings (orjson) and hashing them for the set algebra cost
more than the rest of a filter (in-process profile, bench data: ~0.3-0.7 ms decoding, ~0.3-0.6 ms
hashing of 3-4 ms). So the array's raw bytes are compared with the last few arrays seen (one
memcmp) and a hit reuses the decoded, validated list, whose strings carry their hashes already,
and what was derived from it: the subnet set of each name under the current node index (kept
per index generation) and the `{"Host":"<name>","Score":` JSON prefixes prioritize answers with.

Only a body shaped as Go's encoding/json writes ExtenderArgs in names mode takes this path: the
last key is exactly `"NodeNames"` and the body ends with the array and `}`. Every other body
(lowercase keys, other orders, whitespace, full Nodes mode) is decoded whole, as before, with
the same messages; a body that splits but does not decode is decoded whole as well, so errors
never depend on the path.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

import orjson

from fip.core.nodesubnet import NodeSubnetIndex

KEY = b',"NodeNames":['
SLOTS = 4  # distinct arrays kept: all nodes, plus what filters passed for pods with constraints
_PLAIN = re.compile(r"[A-Za-z0-9._:-]*")  # node names (DNS subdomains) need no JSON escaping


class Names:
    """One decoded NodeNames array and what is derived from it (read only once built)."""

    __slots__ = ("_derived", "_lock", "_prefixes", "names", "raw")

    def __init__(self, raw: bytes, names: list[str]) -> None:
        self.raw = raw
        self.names = names
        self._lock = threading.Lock()
        self._derived: (
            tuple[NodeSubnetIndex, int, list[frozenset[str] | None], set[frozenset[str] | None]] | None
        ) = None
        self._prefixes: list[str] | None = None

    def subnet_sets(
        self, index: NodeSubnetIndex
    ) -> tuple[list[frozenset[str] | None], set[frozenset[str] | None]]:
        """Each name's subnets in `index` (None: unknown node) and the distinct ones, recomputed
        when the index changed (the caller holds the index's lock)."""
        got = self._derived
        if got is not None and got[0] is index and got[1] == index.generation:
            return got[2], got[3]
        sets = index.subnet_sets(self.names)
        distinct = set(sets)
        self._derived = (index, index.generation, sets, distinct)
        return sets, distinct

    def prefixes(self) -> list[str]:
        """`{"Host":<name as JSON>,"Score":` for each name, in order."""
        got = self._prefixes
        if got is None:
            with self._lock:
                got = self._prefixes
                if got is None:
                    if _PLAIN.fullmatch("".join(self.names)):
                        got = ['{"Host":"' + n + '","Score":' for n in self.names]
                    else:
                        got = ['{"Host":' + orjson.dumps(n).decode() + ',"Score":' for n in self.names]
                    self._prefixes = got
        return got


class NamesCache:
    """The last `SLOTS` distinct arrays by raw bytes (shared by a worker's threads)."""

    def __init__(self, slots: int = SLOTS) -> None:
        self.slots = slots
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, Names] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, raw: bytes) -> Names | None:
        with self._lock:
            got = self._entries.get(raw)
            if got is not None:
                self._entries.move_to_end(raw)
                self.hits += 1
            return got

    def put(self, entry: Names) -> Names:
        with self._lock:
            self.misses += 1
            self._entries[entry.raw] = entry
            self._entries.move_to_end(entry.raw)
            while len(self._entries) > self.slots:
                self._entries.popitem(last=False)
        return entry


def split(raw: bytes) -> tuple[bytes, bytes] | None:
    """(the body without its NodeNames, the raw NodeNames array) for a Go-shaped body, else None.
    A `,"NodeNames":[` inside a JSON string is impossible (its quotes would be escaped), so the
    last one is a key; whether it is the top-level one is settled by decoding both parts."""
    if not raw.endswith(b"]}"):
        return None
    i = raw.rfind(KEY)
    if i < 0:
        return None
    return raw[:i] + b"}", raw[i + len(KEY) - 1 : -1]


def has_names_key(head: dict[str, Any]) -> bool:
    """Whether the rest of the body names NodeNames again (any case): then it is decoded whole."""
    return any(isinstance(k, str) and k.casefold() == "nodenames" for k in head)


__all__ = ["KEY", "Names", "NamesCache", "has_names_key", "split"]
