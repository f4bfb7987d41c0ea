# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of watch semantics with `kubernetes.watch.Watch` and the client's
`SharedInformer` against a standalone `fip-lab apiserver`: synthetic ADDED for unset/"0"
resourceVersion, exact resume, bookmarks, timeoutSeconds, 410 Expired, selector transitions
(DELETED on stop-matching, ADDED on start-matching), custom objects, framing.

Real-server sources: website `reference/using-api/api-concepts.md` (Efficient detection of changes,
Watch bookmarks, resourceVersion semantics), apiserver `storage/cacher` (`cache_watcher.go`
convertToWatchEvent, `nextBookmarkTime`: a bookmark ~2 s before a watch's deadline), apimachinery
`NewResourceExpired`. Gaps in the lab server are `xfail(strict=True)`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from heldout_server import api_client, core, custom, eventually, kubeconfig, ns, pod_body  # noqa: F401
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.informer import informer

pytestmark = pytest.mark.e2e


def collect(
    fn: Callable[..., Any], *args: Any, count: int, timeout: int = 3, **kw: Any
) -> list[dict[str, Any]]:
    """Events from one watch, stopping after `count` non-BOOKMARK events or at the server timeout."""
    w = watch.Watch()
    events: list[dict[str, Any]] = []
    for ev in w.stream(fn, *args, timeout_seconds=timeout, **kw):
        events.append(ev)
        if len([e for e in events if e["type"] != "BOOKMARK"]) >= count:
            w.stop()
    return events


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["raw_object"]["metadata"]["name"]) for e in events if e["type"] != "BOOKMARK"]


def test_watch_without_rv_lists_then_follows(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "pre1"}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "pre2"}})

    def writer() -> None:
        time.sleep(0.5)
        core.create_namespaced_config_map(ns, {"metadata": {"name": "live"}})
        core.patch_namespaced_config_map("live", ns, {"data": {"a": "1"}})
        core.delete_namespaced_config_map("live", ns)

    t = threading.Thread(target=writer)
    t.start()
    events = collect(core.list_namespaced_config_map, ns, count=5, timeout=5)
    t.join()
    names = summary(events)
    assert sorted(names[:2]) == [("ADDED", "pre1"), ("ADDED", "pre2")]
    assert names[2:] == [("ADDED", "live"), ("MODIFIED", "live"), ("DELETED", "live")]
    rvs = [int(e["raw_object"]["metadata"]["resourceVersion"]) for e in events[2:]]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3  # the DELETED event carries a new RV
    assert events[3]["object"].data == {"a": "1"}  # deserialized into V1ConfigMap
    assert events[4]["raw_object"]["data"] == {"a": "1"}  # DELETED carries the last state
    assert events[2]["raw_object"]["kind"] == "ConfigMap"  # watch objects carry kind/apiVersion


def test_watch_burst_in_order(core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    names = [f"b{i:03d}" for i in range(150)]
    for name in names:
        core.create_namespaced_config_map(ns, {"metadata": {"name": name}})
    events = collect(core.list_namespaced_config_map, ns, count=150, resource_version=rv)
    assert summary(events) == [("ADDED", n) for n in names]
    rvs = [int(e["raw_object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 150


def test_namespace_deletion_is_seen_as_deletes(core: client.CoreV1Api) -> None:
    name = f"h-wns-{time.monotonic_ns() % 100000}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, {"metadata": {"name": "c1"}})
    core.create_namespaced_pod(name, pod_body("p1"))
    rv = core.list_namespaced_config_map(name).metadata.resource_version
    core.delete_namespace(name)
    events = collect(core.list_namespaced_config_map, name, count=1, resource_version=rv)
    assert summary(events) == [("DELETED", "c1")]


def test_watch_rv_zero_sends_synthetic_added(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "z"}})
    events = collect(core.list_namespaced_config_map, ns, count=1, resource_version="0")
    assert summary(events) == [("ADDED", "z")]


def test_watch_resumes_exactly_after_rv(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "before"}})
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "after"}})
    core.patch_namespaced_config_map("before", ns, {"data": {"x": "1"}})
    core.delete_namespaced_config_map("after", ns)
    events = collect(core.list_namespaced_config_map, ns, count=3, resource_version=rv)
    assert summary(events) == [("ADDED", "after"), ("MODIFIED", "before"), ("DELETED", "after")]
    assert all(int(e["raw_object"]["metadata"]["resourceVersion"]) > int(rv) for e in events)


def test_watch_resume_from_object_rv(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "o"}})
    core.patch_namespaced_config_map("o", ns, {"data": {"v": "2"}})
    events = collect(
        core.list_namespaced_config_map, ns, count=1, resource_version=cm.metadata.resource_version
    )
    assert summary(events) == [("MODIFIED", "o")]


def test_watch_timeout_ends_stream_cleanly(core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    start = time.monotonic()
    events = list(
        watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=2)
    )
    elapsed = time.monotonic() - start
    assert summary(events) == []
    assert 1.5 <= elapsed <= 4.0


def test_watch_bookmarks(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "bm"}})
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            ns,
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=3,
        )
    )
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, "real server sends a bookmark ~2s before the watch deadline"
    obj = bookmarks[-1]["raw_object"]
    assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
    assert int(obj["metadata"]["resourceVersion"]) >= int(rv)


def test_watch_list_initial_events_end_bookmark(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "wl"}})
    w = watch.Watch()
    events = []
    for ev in w.stream(
        core.list_namespaced_config_map,
        ns,
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=3,
    ):
        events.append(ev)
        if ev["type"] == "BOOKMARK":
            w.stop()
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    annotations = events[1]["raw_object"]["metadata"].get("annotations", {})
    assert annotations == {"k8s.io/initial-events-end": "true"}


def test_no_bookmarks_unless_asked(core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    events = list(
        watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=2)
    )
    assert [e for e in events if e["type"] == "BOOKMARK"] == []


def test_watch_very_old_rv_is_410_expired(core: client.CoreV1Api, ns: str) -> None:
    for i in range(10):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"churn-{i}"}})
    with pytest.raises(ApiException) as err:
        collect(core.list_namespaced_config_map, ns, count=1, resource_version="1")
    assert err.value.status == 410
    assert "Expired" in str(err.value.reason)


@pytest.mark.timeout(20)
def test_410_without_timeout_surfaces_after_one_client_retry(core: client.CoreV1Api, ns: str) -> None:
    # no timeout_seconds: the client retries a 410 once with the same RV, then raises
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version="1"):
            pass
    assert err.value.status == 410


def test_410_is_an_error_event_in_a_200_stream(
    api_client: client.ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    resp = core.list_namespaced_config_map(
        ns, watch=True, resource_version="1", timeout_seconds=2, _preload_content=False
    )
    assert resp.status == 200
    line = resp.data.split(b"\n")[0]
    event = json.loads(line)
    assert event["type"] == "ERROR"
    status = event["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith("too old resource version: 1 (")


def test_watch_framing(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "fr"}})
    resp = core.list_namespaced_config_map(ns, watch=True, timeout_seconds=1, _preload_content=False)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers.get("Transfer-Encoding") == "chunked"
    lines = [json.loads(x) for x in resp.data.split(b"\n") if x.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("ADDED", "fr")]


def test_label_selector_transitions(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "sel", "labels": {"team": "a"}}})
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.patch_namespaced_config_map("sel", ns, {"metadata": {"labels": {"team": "b"}}})  # stops matching
    core.patch_namespaced_config_map("sel", ns, {"data": {"x": "1"}})  # invisible
    core.patch_namespaced_config_map("sel", ns, {"metadata": {"labels": {"team": "a"}}})  # matches again
    events = collect(
        core.list_namespaced_config_map, ns, count=2, resource_version=rv, label_selector="team=a"
    )
    assert summary(events) == [("DELETED", "sel"), ("ADDED", "sel")]
    deleted = events[0]["raw_object"]
    assert deleted["metadata"]["labels"] == {"team": "a"}  # the previous object ...
    assert int(deleted["metadata"]["resourceVersion"]) > int(rv)  # ... with the new RV
    assert events[1]["raw_object"]["data"] == {"x": "1"}


def test_field_selector_unscheduled_pods_see_delete_on_bind(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("q"))
    rv = core.list_namespaced_pod(ns).metadata.resource_version
    core.create_namespaced_pod_binding(
        "q", ns, {"metadata": {"name": "q"}, "target": {"kind": "Node", "name": "n1"}}, _preload_content=False
    )
    events = collect(
        core.list_namespaced_pod, ns, count=1, resource_version=rv, field_selector="spec.nodeName="
    )
    assert summary(events) == [("DELETED", "q")]
    on_node = collect(
        core.list_namespaced_pod, ns, count=1, resource_version=rv, field_selector="spec.nodeName=n1"
    )
    assert summary(on_node) == [("ADDED", "q")]
    assert on_node[0]["object"].spec.node_name == "n1"


def test_watch_all_namespaces(core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_pod_for_all_namespaces(limit=1).metadata.resource_version
    other = ns + "-o"
    core.create_namespace({"metadata": {"name": other}})
    core.create_namespaced_pod(ns, pod_body("p", labels={"w": ns}))
    core.create_namespaced_pod(other, pod_body("p", labels={"w": ns}))
    events = collect(core.list_pod_for_all_namespaces, count=2, resource_version=rv, label_selector=f"w={ns}")
    assert sorted(e["raw_object"]["metadata"]["namespace"] for e in events) == sorted([ns, other])


def test_watch_single_object_by_name(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "one"}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "two"}})
    events = collect(core.list_namespaced_config_map, ns, count=1, field_selector="metadata.name=two")
    assert summary(events) == [("ADDED", "two")]


def test_watch_custom_objects(custom: client.CustomObjectsApi) -> None:
    listed = custom.list_cluster_custom_object("fip.io", "v1", "pools")
    rv = listed["metadata"]["resourceVersion"]
    body = {
        "apiVersion": "fip.io/v1",
        "kind": "Pool",
        "metadata": {"name": "h-watch"},
        "spec": {"subnet": "a", "size": 1},
    }
    custom.create_cluster_custom_object("fip.io", "v1", "pools", body)
    custom.patch_cluster_custom_object_status(
        "fip.io", "v1", "pools", "h-watch", {"status": {"allocated": 1}}
    )
    custom.delete_cluster_custom_object("fip.io", "v1", "pools", "h-watch")
    events = collect(custom.list_cluster_custom_object, "fip.io", "v1", "pools", count=3, resource_version=rv)
    assert summary(events) == [("ADDED", "h-watch"), ("MODIFIED", "h-watch"), ("DELETED", "h-watch")]
    assert isinstance(events[0]["object"], dict) and events[0]["object"]["kind"] == "Pool"
    assert events[1]["object"]["status"] == {"allocated": 1}


def test_watch_reconnects_after_bookmark_with_its_rv(core: client.CoreV1Api, ns: str) -> None:
    # the client tracks the RV of BOOKMARKs; a later resume from it must not replay history
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "r1"}})
    w = watch.Watch()
    for _ in w.stream(
        core.list_namespaced_config_map,
        ns,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=2,
    ):
        pass
    assert int(w.resource_version) > int(rv)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "r2"}})
    events = collect(core.list_namespaced_config_map, ns, count=1, resource_version=w.resource_version)
    assert summary(events) == [("ADDED", "r2")]


def test_shared_informer(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "i0"}})
    seen: list[tuple[str, str]] = []
    inf = informer.SharedInformer(core.list_namespaced_config_map, namespace=ns)
    for kind in (informer.ADDED, informer.MODIFIED, informer.DELETED):
        inf.add_event_handler(kind, lambda obj, k=kind: seen.append((k, obj.metadata.name)))
    inf.start()
    try:
        eventually(lambda: ("ADDED", "i0") in seen, what="initial ADDED")
        core.create_namespaced_config_map(ns, {"metadata": {"name": "i1"}})
        core.patch_namespaced_config_map("i1", ns, {"data": {"a": "b"}})
        core.delete_namespaced_config_map("i0", ns)
        eventually(lambda: ("DELETED", "i0") in seen, what="DELETED i0")
        assert ("ADDED", "i1") in seen and ("MODIFIED", "i1") in seen
        assert sorted(o.metadata.name for o in inf.cache.list()) == ["i1"]
    finally:
        inf.stop()
