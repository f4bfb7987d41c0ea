# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of list semantics against a standalone `fip-lab apiserver`, through the
official client only: label and field selectors, limit/continue paging (snapshot consistency,
remainingItemCount), resourceVersion/resourceVersionMatch, lists across namespaces. Real-server
source: website `reference/using-api/api-concepts.md`, apiserver `storage/cacher`, etcd3 store.
"""

from __future__ import annotations

from typing import Any

import pytest
from heldout_server import api_client, core, kubeconfig, ns, pod_body, status_body  # noqa: F401
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


def test_label_selectors(core: client.CoreV1Api, ns: str) -> None:
    for name, labels in {
        "a": {"app": "web", "env": "prod"},
        "b": {"app": "web", "env": "dev"},
        "c": {"app": "db", "env": "prod", "tier": "back"},
        "d": {},
    }.items():
        core.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": labels}})

    def names(sel: str) -> list[str]:
        return sorted(i.metadata.name for i in core.list_namespaced_config_map(ns, label_selector=sel).items)

    assert names("app=web") == ["a", "b"]
    assert names("app==web,env=prod") == ["a"]
    assert names("app!=web") == ["c", "d"]
    assert names("env in (dev, prod)") == ["a", "b", "c"]
    assert names("env notin (prod)") == ["b", "d"]
    assert names("tier") == ["c"]
    assert names("!tier") == ["a", "b", "d"]
    assert names("app,!tier") == ["a", "b"]


def test_invalid_label_selector_is_400(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, label_selector="app in (a")
    assert err.value.status == 400


def test_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("on-n1", node="n1"))
    core.create_namespaced_pod(ns, pod_body("unbound"))

    def names(sel: str) -> list[str]:
        return sorted(i.metadata.name for i in core.list_namespaced_pod(ns, field_selector=sel).items)

    assert names("spec.nodeName=n1") == ["on-n1"]
    assert names("spec.nodeName=") == ["unbound"]
    assert names("spec.nodeName!=") == ["on-n1"]
    assert names("metadata.name=unbound") == ["unbound"]
    assert names(f"metadata.namespace={ns},status.phase=Pending") == ["on-n1", "unbound"]
    assert names("status.phase!=Pending") == []


def test_unsupported_field_selector_is_400(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod(ns, field_selector="spec.containers=x")
    assert err.value.status == 400
    body = status_body(err.value)
    assert body["reason"] == "BadRequest"
    assert "field label not supported: spec.containers" in body["message"]


def test_limit_and_continue(core: client.CoreV1Api, ns: str) -> None:
    expected = sorted(f"cm-{i:02d}" for i in range(25))
    for name in expected:
        core.create_namespaced_config_map(ns, {"metadata": {"name": name}})
    first = core.list_namespaced_config_map(ns, limit=10)
    assert len(first.items) == 10
    assert first.metadata._continue
    assert first.metadata.remaining_item_count == 15
    seen = [i.metadata.name for i in first.items]
    token = first.metadata._continue
    pages = 1
    while token:
        page = core.list_namespaced_config_map(ns, limit=10, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version  # one snapshot
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
        pages += 1
    assert pages == 3
    assert seen == expected  # etcd key order


def test_remaining_item_count_absent_with_selector(core: client.CoreV1Api, ns: str) -> None:
    for i in range(4):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"r{i}", "labels": {"x": "1"}}})
    page = core.list_namespaced_config_map(ns, label_selector="x=1", limit=2)
    assert page.metadata._continue
    assert page.metadata.remaining_item_count is None


def test_limit_zero_means_no_limit(core: client.CoreV1Api, ns: str) -> None:
    for i in range(3):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"z{i}"}})
    page = core.list_namespaced_config_map(ns, limit=0)
    assert len(page.items) == 3 and not page.metadata._continue


def test_continue_is_a_consistent_snapshot(core: client.CoreV1Api, ns: str) -> None:
    for i in range(6):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"s{i}"}})
    first = core.list_namespaced_config_map(ns, limit=3)
    core.delete_namespaced_config_map("s5", ns)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "s9"}})
    rest = core.list_namespaced_config_map(ns, limit=10, _continue=first.metadata._continue)
    assert [i.metadata.name for i in rest.items] == ["s3", "s4", "s5"]


def test_list_with_future_resource_version_times_out(core: client.CoreV1Api, ns: str) -> None:
    rv = int(core.list_namespaced_config_map(ns).metadata.resource_version)
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(
            ns, resource_version=str(rv + 100000), resource_version_match="NotOlderThan"
        )
    assert err.value.status == 504
    assert "Too large resource version" in status_body(err.value)["message"]


def test_list_resource_version_semantics(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}, "data": {"v": "1"}})
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.patch_namespaced_config_map("a", ns, {"data": {"v": "2"}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})

    def state(**kw: Any) -> list[tuple[str, Any]]:
        return [(i.metadata.name, i.data) for i in core.list_namespaced_config_map(ns, **kw).items]

    current = [("a", {"v": "2"}), ("b", None)]
    assert state(resource_version="0") == current  # any: served from cache
    assert state(resource_version=rv) == current  # legacy: not older than rv
    exact = core.list_namespaced_config_map(ns, resource_version=rv, resource_version_match="Exact")
    assert exact.metadata.resource_version == rv
    assert [(i.metadata.name, i.data) for i in exact.items] == [("a", {"v": "1"})]  # the past, exactly
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, resource_version="1", resource_version_match="Exact")
    assert err.value.status == 410
    assert status_body(err.value)["reason"] == "Expired"


def test_bad_continue_token_is_400(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, limit=1, _continue="not-a-token")
    assert err.value.status == 400


def test_list_for_all_namespaces(core: client.CoreV1Api, ns: str) -> None:
    other = ns + "-b"
    core.create_namespace({"metadata": {"name": other}})
    core.create_namespaced_pod(ns, pod_body("x", labels={"allns": ns}))
    core.create_namespaced_pod(other, pod_body("x", labels={"allns": ns}))
    out = core.list_pod_for_all_namespaces(label_selector=f"allns={ns}")
    assert sorted((p.metadata.namespace, p.metadata.name) for p in out.items) == [(ns, "x"), (other, "x")]
    cms = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={other}")
    assert all(c.metadata.namespace == other for c in cms.items)
    page = core.list_pod_for_all_namespaces(label_selector=f"allns={ns}", limit=1)
    assert len(page.items) == 1 and page.metadata._continue


def test_namespaced_list_in_missing_namespace_is_empty(core: client.CoreV1Api) -> None:
    assert core.list_namespaced_config_map("h-no-such-ns").items == []
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("x", "h-no-such-ns")
    assert status_body(err.value)["message"] == 'configmaps "x" not found'
