"""fip.kube over real HTTP: the informer resumes watches and re-lists after 410 Gone, as client-go
does; errors carry the status."""

from __future__ import annotations

from typing import Any

import pytest

from fip.kube.client import KubeClient
from fip.kube.errors import Expired, KubeError
from fip.kube.informer import Informer
from fip.kube.resources import PODS
from lab.apiserver import APIServer
from lab.wait import wait_for

pytestmark = pytest.mark.e2e


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }


def test_informer_relists_after_410_and_reports_what_it_missed() -> None:
    with APIServer(host="127.0.0.1", port=0) as api:
        client = KubeClient.for_server(api.url)
        client.create(PODS, pod("a"))
        client.create(PODS, pod("b"))
        seen: list[tuple[str, str]] = []
        informer = Informer(client, PODS, "default")
        informer.add_handler(lambda kind, obj, _old: seen.append((kind, obj["metadata"]["name"])))
        informer.start()
        try:
            assert informer.synced.wait(5)
            assert sorted(seen) == [("ADDED", "a"), ("ADDED", "b")]
            client.delete(PODS, "a", "default")
            client.create(PODS, pod("c"))
            wait_for(lambda: ("ADDED", "c") in seen and ("DELETED", "a") in seen)
            relists = informer.relists
            api.control.compact()
            api.control.drop_watches()
            client.create(PODS, pod("d"))
            client.delete(PODS, "b", "default")
            wait_for(lambda: ("ADDED", "d") in seen and ("DELETED", "b") in seen)
            assert sorted(o["metadata"]["name"] for o in informer.items()) == ["c", "d"]
            assert seen.count(("ADDED", "d")) == 1
        finally:
            informer.stop()
        assert informer.relists > relists  # the 410 forced a re-list


def test_watch_from_a_compacted_version_raises_expired() -> None:
    with APIServer(host="127.0.0.1", port=0) as api:
        client = KubeClient.for_server(api.url)
        rv = client.list(PODS, "default")["metadata"]["resourceVersion"]
        client.create(PODS, pod("a"))
        api.control.compact()
        with pytest.raises(Expired):
            for _ in client.watch(PODS, rv, "default", timeout_seconds=2):
                pass


def test_errors_carry_the_servers_status() -> None:
    with APIServer(host="127.0.0.1", port=0) as api:
        client = KubeClient.for_server(api.url)
        with pytest.raises(KubeError) as err:
            client.get(PODS, "missing", "default")
        assert (err.value.status, err.value.reason) == (404, "NotFound")
        client.create(PODS, pod("a"))
        with pytest.raises(KubeError) as err:
            client.create(PODS, pod("a"))
        assert (err.value.status, err.value.reason) == (409, "AlreadyExists")
    with pytest.raises(KubeError) as err:
        client.get(PODS, "a", "default")
    assert err.value.status == 0  # server gone: a transport error, not a traceback
