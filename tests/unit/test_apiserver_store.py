"""The fake API server's store and change history, in process (no HTTP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.apiserver.gc import Collector
from lab.apiserver.history import Change, History
from lab.apiserver.resources import BUILTIN, Registry
from lab.apiserver.status import APIError
from lab.apiserver.storage import Storage


@pytest.fixture
def storage() -> Iterator[Storage]:
    s = Storage(Registry(list(BUILTIN)), history_capacity=50)
    s.create("namespaces", {"metadata": {"name": "default"}})
    gc = Collector(s)
    gc.start()
    yield s
    gc.stop()


def pod(name: str, node: str | None = None, **meta: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i:1"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": "default", **meta}, "spec": spec}


def wait_until(check: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_every_write_gets_the_next_resource_version(storage: Storage) -> None:
    a = storage.create("pods", pod("a"))
    b = storage.create("pods", pod("b"))
    c = storage.patch("pods", "a", {"metadata": {"labels": {"x": "y"}}}, "default")
    assert (
        int(a["metadata"]["resourceVersion"])
        < int(b["metadata"]["resourceVersion"])
        < int(c["metadata"]["resourceVersion"])
    )
    assert storage.resource_version == c["metadata"]["resourceVersion"]
    assert a["metadata"]["uid"] != b["metadata"]["uid"] and c["metadata"]["uid"] == a["metadata"]["uid"]


def test_reads_are_copies(storage: Storage) -> None:
    storage.create("pods", pod("a"))
    got = storage.get("pods", "a", "default")
    got["metadata"]["labels"] = {"mutated": "yes"}
    assert "labels" not in storage.get("pods", "a", "default")["metadata"]


def test_conflict_and_noop(storage: Storage) -> None:
    cm = storage.create("configmaps", {"metadata": {"name": "c", "namespace": "default"}, "data": {"k": "1"}})
    same = storage.update("configmaps", cm)
    assert same["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]
    storage.update("configmaps", {**cm, "data": {"k": "2"}})
    with pytest.raises(APIError) as err:
        storage.update("configmaps", {**cm, "data": {"k": "3"}})
    assert err.value.code == 409 and err.value.reason == "Conflict"
    assert storage.get("configmaps", "c", "default")["data"] == {"k": "2"}


def test_keep_status_for_test_setup(storage: Storage) -> None:
    p = storage.create("pods", {**pod("a", node="n1"), "status": {"phase": "Running"}}, keep_status=True)
    assert p["status"]["phase"] == "Running"
    q = storage.create("pods", {**pod("b"), "status": {"phase": "Running"}})
    assert q["status"]["phase"] == "Pending"


def test_graceful_deletion_expires(storage: Storage) -> None:
    storage.create("pods", pod("a", node="n1"))
    kept = storage.delete("pods", "a", "default", grace_period=1)
    assert kept["metadata"]["deletionGracePeriodSeconds"] == 1
    assert storage.try_get("pods", "a", "default") is not None
    wait_until(lambda: storage.try_get("pods", "a", "default") is None, 4.0)


def test_bind_preconditions(storage: Storage) -> None:
    p = storage.create("pods", pod("a"))
    with pytest.raises(APIError) as err:
        storage.bind("default", "a", "n1", uid="wrong")
    assert err.value.code == 409
    bound = storage.bind("default", "a", "n1", uid=p["metadata"]["uid"], annotations={"k": "v"})
    assert bound["spec"]["nodeName"] == "n1" and bound["metadata"]["annotations"] == {"k": "v"}
    with pytest.raises(APIError) as err:
        storage.bind("default", "a", "n2")
    assert err.value.code == 409


def test_cascade_with_two_owners_only_drops_the_dead_reference(storage: Storage) -> None:
    o1 = storage.create("configmaps", {"metadata": {"name": "o1", "namespace": "default"}})
    o2 = storage.create("configmaps", {"metadata": {"name": "o2", "namespace": "default"}})
    refs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": n, "uid": o["metadata"]["uid"]}
        for n, o in (("o1", o1), ("o2", o2))
    ]
    storage.create("pods", pod("shared", ownerReferences=refs))
    storage.create("pods", pod("only1", ownerReferences=refs[:1]))
    storage.delete("configmaps", "o1", "default")
    wait_until(lambda: storage.try_get("pods", "only1", "default") is None)
    shared = storage.get("pods", "shared", "default")
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["o2"]


def test_foreground_deletion_waits_for_dependents(storage: Storage) -> None:
    owner = storage.create("configmaps", {"metadata": {"name": "o", "namespace": "default"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": owner["metadata"]["uid"]}
    storage.create("pods", pod("dep", node="n1", ownerReferences=[ref]))
    storage.delete("configmaps", "o", "default", propagation="Foreground")
    held = storage.get("configmaps", "o", "default")
    assert "foregroundDeletion" in held["metadata"]["finalizers"]
    wait_until(lambda: storage.get("pods", "dep", "default")["metadata"].get("deletionTimestamp"))
    assert storage.try_get("configmaps", "o", "default") is not None  # the pod is still terminating
    storage.delete("pods", "dep", "default", grace_period=0)
    wait_until(lambda: storage.try_get("configmaps", "o", "default") is None)


def test_history_compaction_and_cursors() -> None:
    cond = threading.Condition()
    h = History(cond, capacity=3, start_rv=10)
    with cond:
        for _ in range(8):
            rv = h.next_rv()
            h.append(Change(rv, "pods", "", "ADDED", {"metadata": {"name": str(rv)}}, None, b"{}"))
        assert h.compacted_rv > 10  # trimmed past capacity * 2
        with pytest.raises(APIError) as err:
            h.cursor_for(10)
        assert err.value.code == 410 and err.value.message.startswith("too old resource version: 10")
        batch, cursor = h.read(h.cursor_for(15), 0)
        assert [c.rv for c in batch] == [16, 17, 18] and cursor == h.end
        h.compact()
        with pytest.raises(APIError):
            h.cursor_for(18)
        assert h.read(cursor, 0)[0] == []  # an up-to-date reader is not affected


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["create", "patch", "delete"]), st.integers(0, 4)), max_size=25))
def test_continue_pages_are_a_snapshot(ops: list[tuple[str, int]]) -> None:
    s = Storage(Registry(list(BUILTIN)))
    s.create("namespaces", {"metadata": {"name": "default"}})
    for i in range(5):
        s.create("configmaps", {"metadata": {"name": f"c{i}", "namespace": "default"}})
    rt = s.rt("configmaps")
    first = s.list_rt(rt, "default", limit=2)
    snapshot = [o["metadata"]["name"] for o in s.list_rt(rt, "default").items]
    for op, i in ops:
        try:
            if op == "create":
                s.create("configmaps", {"metadata": {"name": f"c{i}", "namespace": "default"}})
            elif op == "patch":
                s.patch("configmaps", f"c{i}", {"data": {"x": str(i)}}, "default")
            else:
                s.delete("configmaps", f"c{i}", "default")
        except APIError:
            pass
    rest = s.list_rt(rt, "default", limit=100, cont=first.continue_token)
    assert [o["metadata"]["name"] for o in first.items + rest.items] == snapshot
    assert all("data" not in o for o in rest.items)
    assert rest.resource_version == first.resource_version
