"""Watch semantics of the fake API server, through the official client's `Watch` and
`SharedInformer` and over raw HTTP (framing, 410 inside a 200 stream, `watch=true|True`)."""

# ruff: noqa: F811  (fixtures imported from apiserver_lab are re-bound as test parameters)

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from apiserver_lab import api, api_client, core, kubeconfig, ns, pod, wait_for  # noqa: F401
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.informer.informer import SharedInformer

from lab.apiserver import APIServer

pytestmark = pytest.mark.e2e


def raw_watch(api: APIServer, path: str) -> tuple[int, dict[str, str], list[dict[str, Any]]]:
    """GET a watch URL that ends by itself (timeoutSeconds or an ERROR); return status, headers, events."""
    parts = urlsplit(api.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    body = resp.read()  # http.client undoes the chunked framing
    conn.close()
    assert body.endswith(b"\n")
    return resp.status, headers, [json.loads(line) for line in body.split(b"\n") if line.strip()]


def collect(
    stream_fn: Any, *args: Any, stop_after: int | None = None, **kwargs: Any
) -> tuple[list[tuple[str, str, str]], threading.Thread, watch.Watch]:
    """Run `Watch().stream` in a thread, recording (type, name, resourceVersion)."""
    seen: list[tuple[str, str, str]] = []
    w = watch.Watch()

    def run() -> None:
        for ev in w.stream(stream_fn, *args, **kwargs):
            obj = ev["object"]
            if ev["type"] == "BOOKMARK":
                seen.append(("BOOKMARK", "", obj["metadata"]["resourceVersion"]))
            else:
                seen.append((ev["type"], obj.metadata.name, obj.metadata.resource_version))
            if stop_after is not None and len(seen) >= stop_after:
                w.stop()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return seen, t, w


def test_rv_unset_replays_state_then_live_changes(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("a"))
    seen, t, _ = collect(core.list_namespaced_pod, ns, timeout_seconds=2)
    wait_for(lambda: seen, what="synthetic ADDED")
    core.create_namespaced_pod(ns, pod("b"))
    core.patch_namespaced_pod("a", ns, {"metadata": {"labels": {"x": "1"}}})
    core.delete_namespaced_pod("b", ns)
    t.join(5)
    assert [(ty, n) for ty, n, _ in seen] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "b"),
    ]
    rvs = [int(rv) for _, _, rv in seen[1:]]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3


def test_resume_from_resource_version_replays_only_later_changes(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("a"))
    listed = core.list_namespaced_pod(ns)
    core.create_namespaced_pod(ns, pod("b"))
    core.patch_namespaced_pod("a", ns, {"metadata": {"labels": {"x": "1"}}})
    seen, t, _ = collect(
        core.list_namespaced_pod, ns, resource_version=listed.metadata.resource_version, timeout_seconds=1
    )
    t.join(5)
    assert [(ty, n) for ty, n, _ in seen] == [("ADDED", "b"), ("MODIFIED", "a")]


def test_compacted_history_gives_410_then_relist_works(
    api: APIServer, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_pod(ns, pod("a"))
    old_rv = core.list_namespaced_pod(ns).metadata.resource_version
    core.create_namespaced_pod(ns, pod("b"))
    api.control.compact()
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(
            core.list_namespaced_pod, ns, resource_version=old_rv, timeout_seconds=2
        ):
            pass
    assert err.value.status == 410
    relisted = core.list_namespaced_pod(ns)
    assert [p.metadata.name for p in relisted.items] == ["a", "b"]
    seen, t, _ = collect(
        core.list_namespaced_pod, ns, resource_version=relisted.metadata.resource_version, timeout_seconds=1
    )
    core.create_namespaced_pod(ns, pod("c"))
    t.join(5)
    assert [(ty, n) for ty, n, _ in seen] == [("ADDED", "c")]


def test_410_is_an_error_event_inside_a_200_stream(api: APIServer, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    api.control.compact()
    code, headers, events = raw_watch(api, f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion=5")
    assert code == 200 and headers["transfer-encoding"] == "chunked"
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith("too old resource version: 5 (")


@pytest.mark.parametrize("flag", ["true", "True", "1"])
def test_watch_flag_spellings(api: APIServer, core: client.CoreV1Api, ns: str, flag: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    code, _, events = raw_watch(api, f"/api/v1/namespaces/{ns}/configmaps?watch={flag}&timeoutSeconds=1")
    assert code == 200 and [e["type"] for e in events] == ["ADDED"]
    assert events[0]["object"]["kind"] == "ConfigMap" and events[0]["object"]["apiVersion"] == "v1"


def test_bookmarks(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("a"))
    rv = core.list_namespaced_pod(ns).metadata.resource_version
    seen, t, _ = collect(
        core.list_namespaced_pod, ns, resource_version=rv, allow_watch_bookmarks=True, timeout_seconds=1
    )
    core.create_namespaced_pod(ns, pod("b"))
    t.join(5)
    kinds = [ty for ty, _, _ in seen]
    assert kinds[0] == "ADDED" and "BOOKMARK" in kinds
    bookmark_rvs = [int(r) for ty, _, r in seen if ty == "BOOKMARK"]
    assert min(bookmark_rvs) >= int(seen[0][2])  # a bookmark never goes back in time


def test_timeout_seconds_ends_stream(core: client.CoreV1Api, ns: str) -> None:
    start = time.monotonic()
    for _ in watch.Watch().stream(core.list_namespaced_pod, ns, timeout_seconds=1):
        pass
    assert 0.9 <= time.monotonic() - start < 3


def test_object_leaving_the_selector_is_deleted(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_pod(ns, pod("p"))
    seen, t, _ = collect(core.list_namespaced_pod, ns, field_selector="spec.nodeName=", timeout_seconds=1)
    wait_for(lambda: seen, what="initial ADDED")
    core.create_namespaced_pod_binding(
        "p",
        ns,
        {"metadata": {"name": "p", "uid": created.metadata.uid}, "target": {"name": "n1"}},
        _preload_content=False,
    )
    t.join(5)
    assert [(ty, n) for ty, n, _ in seen] == [("ADDED", "p"), ("DELETED", "p")]
    assert int(seen[1][2]) > int(seen[0][2])  # the DELETED carries the new resourceVersion


def test_object_entering_the_selector_is_added(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("p"))
    seen, t, _ = collect(core.list_namespaced_pod, ns, label_selector="team=a", timeout_seconds=1)
    time.sleep(0.2)
    core.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"team": "a"}}})
    core.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"team": "b"}}})
    t.join(5)
    assert [(ty, n) for ty, n, _ in seen] == [("ADDED", "p"), ("DELETED", "p")]


def test_graceful_deletion_event_sequence(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("p", node="n1"))
    seen, t, _ = collect(core.list_namespaced_pod, ns, timeout_seconds=1)
    wait_for(lambda: seen, what="initial ADDED")
    core.delete_namespaced_pod("p", ns, grace_period_seconds=30)
    core.delete_namespaced_pod("p", ns, grace_period_seconds=0)  # kubelet confirmation
    t.join(5)
    assert [(ty, n) for ty, n, _ in seen] == [("ADDED", "p"), ("MODIFIED", "p"), ("DELETED", "p")]


def test_drop_watches_client_resumes_without_loss(api: APIServer, core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    seen: list[str] = []
    w = watch.Watch()

    def run() -> None:
        for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=rv):
            seen.append(ev["object"].metadata.name)
            if len(seen) == 6:
                w.stop()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    for i in range(3):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"c{i}"}})
    wait_for(lambda: len(seen) == 3, what="first events")
    watches_before = sum(1 for m, p, _ in api.requests if "watch=" in p and ns in p)
    api.control.drop_watches()
    for i in range(3, 6):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"c{i}"}})
    t.join(10)
    assert seen == [f"c{i}" for i in range(6)]  # no loss, no duplicates across the reconnect
    assert sum(1 for m, p, _ in api.requests if "watch=" in p and ns in p) >= watches_before


def test_pause_and_resume(api: APIServer, core: client.CoreV1Api, ns: str) -> None:
    api.control.pause()
    done: list[float] = []
    t = threading.Thread(
        target=lambda: (core.list_namespaced_pod(ns), done.append(time.monotonic())), daemon=True
    )
    start = time.monotonic()
    t.start()
    time.sleep(0.4)
    assert not done
    api.control.resume()
    t.join(5)
    assert done and done[0] - start >= 0.4


def test_injected_latency(api: APIServer, core: client.CoreV1Api, ns: str) -> None:
    api.control.inject("get", "pods", latency=0.3, times=1)
    core.create_namespaced_pod(ns, pod("p"))
    start = time.monotonic()
    core.read_namespaced_pod("p", ns)
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    core.read_namespaced_pod("p", ns)
    assert time.monotonic() - start < 0.3


def test_shared_informer_relists_after_410(api: APIServer, core: client.CoreV1Api, ns: str) -> None:
    events: list[tuple[str, str]] = []
    informer = SharedInformer(core.list_namespaced_config_map, namespace=ns)
    for kind in ("ADDED", "MODIFIED", "DELETED"):
        informer.add_event_handler(kind, lambda obj, kind=kind: events.append((kind, obj.metadata.name)))
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    informer.start()
    try:
        wait_for(lambda: ("ADDED", "a") in events, what="informer ADDED")
        core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})
        wait_for(lambda: ("ADDED", "b") in events, what="informer live ADDED")
        api.control.compact()
        api.control.drop_watches()  # the informer reconnects from its RV, gets 410, re-lists
        core.delete_namespaced_config_map("a", ns)
        wait_for(lambda: ("DELETED", "a") in events, what="informer sees delete after re-list")
        assert {o.metadata.name for o in informer.cache.list()} == {"b"}
    finally:
        informer.stop()
