"""prioritize's reply encoded from per-group fragments: no per-node dict or score lookup.

A HostPriorityList over 5,000 names built as 5,000 dicts and then encoded cost about as much as
the rest of the verb. Nodes with the same subnet set get the same score (`placement.set_score`),
so the reply is assembled from pre-encoded `{"Host":"<name>","Score":<n>}` fragments: per
request one score per group of the index (a few hundred), one dict merge per group, then one
C-level `join` over the names in the order they came. The bytes are exactly what encoding
`wire.priority_list_for` gives (a test holds them equal).

Fragments are built the first time a (group, score) pair is asked for and dropped when the
index's membership changes (`NodeSubnetIndex.version`); a node status update that moves no
node keeps them. A name the index does not know makes `encode` answer None (the caller then
takes the general path).
"""

from __future__ import annotations

import orjson

from fip.core.nodesubnet import NodeSubnetIndex
from fip.core.placement import Placement, set_score

Fragments = dict[str, bytes]


class PriorityEncoder:
    """Not thread-safe by itself: call under the view's lock (the index is read there too)."""

    def __init__(self) -> None:
        self._version = -1
        self._frags: dict[tuple[frozenset[str], int], Fragments] = {}

    def encode(self, placement: Placement, index: NodeSubnetIndex, names: list[str]) -> bytes | None:
        if index.version != self._version:
            self._frags.clear()
            self._version = index.version
        merged: Fragments = {}
        for of, members in index.groups().items():
            score = set_score(placement, of)
            frags = self._frags.get((of, score))
            if frags is None:
                frags = self._frags[(of, score)] = {
                    n: orjson.dumps({"Host": n, "Score": score}) for n in members
                }
            merged.update(frags)
        try:
            return b"[" + b",".join(map(merged.__getitem__, names)) + b"]"
        except KeyError:
            return None
