"""Scale: 5,000 nodes and 100,000 pods in memory; a full pod list over HTTP within 2 s; ten
concurrent watchers each see every event, in commit order. Figures are printed (`-s`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch

from lab.apiserver import APIServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NODES, PODS = 5_000, 100_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[APIServer, client.ApiClient]]:
    with APIServer() as api:
        st = api.storage
        nodes, pods = st.rt("nodes"), st.rt("pods")
        start = time.perf_counter()
        for i in range(NODES):
            st.create_rt(
                nodes, None, {"metadata": {"name": f"node-{i}", "labels": {"fip.io/l2": f"dc{i % 4}"}}}
            )
        for i in range(PODS):
            body = {
                "metadata": {"name": f"pod-{i}", "labels": {"app": f"app-{i % 100}"}},
                "spec": {
                    "nodeName": f"node-{i % NODES}",
                    "containers": [
                        {"name": "app", "image": "busybox", "resources": {"limits": {"fip.io/ip": "1"}}}
                    ],
                },
            }
            st.create_rt(pods, "default", body)
        print(f"\nloaded {NODES} nodes + {PODS} pods in-process in {time.perf_counter() - start:.2f}s")
        cfg = client.Configuration()
        config.load_kube_config(
            str(api.write_kubeconfig(tmp_path_factory.mktemp("kc") / "kc")), client_configuration=cfg
        )
        yield api, client.ApiClient(cfg)


def test_list_100k_pods_under_2s(big: tuple[APIServer, client.ApiClient]) -> None:
    _, api_client = big
    core = client.CoreV1Api(api_client)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        resp = core.list_pod_for_all_namespaces(_preload_content=False)
        body = resp.data
        timings.append(time.perf_counter() - start)
    parsed = json.loads(body)
    print(
        f"list {PODS} pods over HTTP ({len(body) / 1e6:.1f} MB): " + ", ".join(f"{t:.2f}s" for t in timings)
    )
    assert len(parsed["items"]) == PODS and parsed["kind"] == "PodList"
    assert min(timings) < 2.0
    start = time.perf_counter()
    page = core.list_pod_for_all_namespaces(limit=500, field_selector="spec.nodeName=node-7")
    print(f"field-selected list of 100k pods: {time.perf_counter() - start:.2f}s")
    assert [p.metadata.name for p in page.items] == [
        f"pod-{i}" for i in sorted(range(7, PODS, NODES), key=str)
    ]
    assert len(client.CoreV1Api(api_client).list_node(_preload_content=False).data) > 0


def test_ten_watchers_see_every_event_in_order(big: tuple[APIServer, client.ApiClient]) -> None:
    api, api_client = big
    core = client.CoreV1Api(api_client)
    api.storage.create("namespaces", {"metadata": {"name": "burst"}})
    rv = core.list_namespaced_config_map("burst").metadata.resource_version
    writes_per_thread, threads_n = 100, 4
    expected_total = writes_per_thread * threads_n * 2  # each write thread: create + update per object
    seen: list[list[tuple[str, str, int]]] = [[] for _ in range(10)]

    def watcher(idx: int) -> None:
        w = watch.Watch()
        for ev in w.stream(
            client.CoreV1Api(api_client).list_namespaced_config_map, "burst", resource_version=rv
        ):
            seen[idx].append(
                (ev["type"], ev["object"].metadata.name, int(ev["object"].metadata.resource_version))
            )
            if len(seen[idx]) == expected_total:
                w.stop()

    watchers = [threading.Thread(target=watcher, args=(i,), daemon=True) for i in range(10)]
    for t in watchers:
        t.start()

    def writer(tid: int) -> None:
        writer_core = client.CoreV1Api(api_client)
        for i in range(writes_per_thread):
            name = f"w{tid}-{i}"
            writer_core.create_namespaced_config_map(
                "burst", {"metadata": {"name": name}, "data": {"v": "1"}}
            )
            writer_core.patch_namespaced_config_map(name, "burst", {"data": {"v": "2"}})

    start = time.perf_counter()
    writers = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    for t in watchers:
        t.join(60)
    print(
        f"{expected_total} writes from {threads_n} threads, 10 watchers: {time.perf_counter() - start:.2f}s"
    )
    for events in seen:
        assert len(events) == expected_total
        assert events == seen[0]  # everyone saw the same sequence
        rvs = [r for _, _, r in events]
        assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs)
    per_object: dict[str, list[str]] = {}
    for ty, name, _ in seen[0]:
        per_object.setdefault(name, []).append(ty)
    assert all(types == ["ADDED", "MODIFIED"] for types in per_object.values())
