"""The extender's request decoders: only BadRequest for any JSON value, and the readiness rules
of the cluster view (never answer from an unsynced cache)."""

from __future__ import annotations

import threading
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from scheduler_extender import wire
from scheduler_extender.errors import BadRequest
from scheduler_extender.nodeindex import ClusterView

from fip.store.memory import MemoryStore

_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=14), inner, max_size=5),
    max_leaves=30,
)
_pod = st.fixed_dictionaries(
    {
        "metadata": st.fixed_dictionaries(
            {"name": st.just("p"), "namespace": st.just("d"), "uid": st.just("u")},
            optional={"labels": _json, "annotations": _json, "ownerReferences": _json},
        )
    },
    optional={"spec": _json},
)
_args = st.dictionaries(
    st.sampled_from(
        [
            "Pod",
            "pod",
            "POD",
            "Nodes",
            "nodes",
            "NodeNames",
            "nodenames",
            "NodeNameToMetaVictims",
            "NodeNameToVictims",
            "PodName",
            "PodNamespace",
            "PodUID",
            "Node",
        ]
    ),
    _json | _pod | st.lists(st.text(max_size=5)),
    max_size=5,
)


@settings(max_examples=800, deadline=None)
@given(_json | _args)
def test_decoders_raise_only_bad_request(body: Any) -> None:
    for decode in (wire.decode_args, wire.decode_binding, wire.decode_preemption):
        try:
            decode(body)
        except BadRequest as err:
            assert str(err)


def test_case_insensitive_field_prefers_the_exact_key() -> None:
    assert wire.field({"nodenames": [1], "NodeNames": [2]}, "NodeNames") == [2]
    assert wire.field({"NODENAMES": [3]}, "NodeNames") == [3]
    assert wire.field({}, "NodeNames") is None


class _Informer:
    def __init__(self) -> None:
        self.synced = threading.Event()

    def add_handler(self, handler: Any) -> None:
        pass

    def get(self, key: str) -> None:
        return None

    def start(self) -> object:
        return self

    def stop(self, timeout: float = 5.0) -> None:
        pass


def test_not_ready_until_every_informer_synced_and_the_store_read() -> None:
    store = MemoryStore()
    nodes, rs = _Informer(), _Informer()
    view = ClusterView(store, nodes=nodes, replicasets=rs)
    assert "the store has not been read yet" in view.problems()
    view.refresh()  # a new, uninitialised store is refused
    assert view.problems() and any("nodes cache not synced" in p for p in view.problems())
    store.initialise()
    view.refresh()
    nodes.synced.set()
    assert view.problems() == ["replicasets cache not synced"]
    rs.synced.set()
    assert view.problems() == []
    nodes.synced.clear()  # re-listing after a watch failure: not ready again
    assert view.problems() == ["nodes cache not synced"]
