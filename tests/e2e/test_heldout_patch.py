# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of the patch flavours against a standalone `fip-lab apiserver`, through the
official client only: JSON merge patch (RFC 7386), strategic merge patch (merge keys, directives,
`$setElementOrder`), JSON patch (RFC 6902, JSON-pointer escaping, `test` op), server-side apply
(field managers, conflicts, managedFields). Real-server source: apiserver `handlers/patch.go`,
apimachinery `strategicpatch`, structured-merge-diff.
"""

from __future__ import annotations

from typing import Any

import pytest
from heldout_server import api_client, core, kubeconfig, ns, pod_body, status_body  # noqa: F401
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


def test_merge_patch(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}}, "data": {"x": "1", "y": "2"}}
    )
    out = core.patch_namespaced_config_map(
        "p",
        ns,
        {"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"y": None, "z": "3"}},
        _content_type="application/merge-patch+json",
    )
    assert out.metadata.labels == {"b": "2", "c": "3"}
    assert out.data == {"x": "1", "z": "3"}


def test_strategic_merge_patch_merges_containers_by_name(core: client.CoreV1Api, ns: str) -> None:
    body = pod_body("s", labels={"app": "s"})
    body["spec"]["containers"].append({"name": "side", "image": "busybox"})
    core.create_namespaced_pod(ns, body)
    out = core.patch_namespaced_pod(
        "s",
        ns,
        {
            "metadata": {"labels": {"tier": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1"}]},
        },
    )
    assert out.metadata.labels == {"app": "s", "tier": "web"}
    assert [(c.name, c.image) for c in out.spec.containers] == [("app", "nginx:1"), ("side", "busybox")]


def test_strategic_merge_patch_delete_directive(core: client.CoreV1Api, ns: str) -> None:
    body = pod_body("sd")
    body["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    core.create_namespaced_pod(ns, body)
    patch = {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}]}}
    # env is not mutable on a live pod: the real server answers 422 Invalid (pod spec immutability)
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_pod("sd", ns, patch)
    assert err.value.status == 422
    assert status_body(err.value)["reason"] == "Invalid"


def test_strategic_vs_merge_patch_on_lists(core: client.CoreV1Api, ns: str) -> None:
    # owners must exist: the garbage collector deletes dependents of missing owners
    u1 = core.create_namespaced_config_map(ns, {"metadata": {"name": "o1"}}).metadata.uid
    u2 = core.create_namespaced_config_map(ns, {"metadata": {"name": "o2"}}).metadata.uid
    meta = {"name": "l", "finalizers": ["a.io/x"]}
    meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o1", "uid": u1}]
    core.create_namespaced_config_map(ns, {"metadata": meta})
    new_owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o2", "uid": u2}
    smp = core.patch_namespaced_config_map(
        "l", ns, {"metadata": {"finalizers": ["b.io/y"], "ownerReferences": [new_owner]}}
    )
    assert smp.metadata.finalizers == ["a.io/x", "b.io/y"]  # patchStrategy merge: a set
    assert [o.uid for o in smp.metadata.owner_references] == [u1, u2]  # merged by uid
    merge = core.patch_namespaced_config_map(
        "l", ns, {"metadata": {"finalizers": ["c.io/z"]}}, _content_type="application/merge-patch+json"
    )
    assert merge.metadata.finalizers == ["c.io/z"]  # RFC 7386: lists replace
    core.patch_namespaced_config_map(
        "l", ns, {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )


def test_patch_directives_and_json_pointer_escaping(core: client.CoreV1Api, ns: str) -> None:
    meta = {"name": "dir", "finalizers": ["x.io/a", "x.io/b"], "labels": {"k": "v", "k2": "v2"}}
    core.create_namespaced_config_map(ns, {"metadata": meta})
    out = core.patch_namespaced_config_map(
        "dir",
        ns,
        [
            {"op": "add", "path": "/metadata/annotations", "value": {}},
            {"op": "add", "path": "/metadata/annotations/fip.io~1allocation", "value": "{}"},
            {"op": "move", "from": "/metadata/labels/k2", "path": "/metadata/labels/k3"},
            {"op": "copy", "from": "/metadata/labels/k", "path": "/metadata/labels/k4"},
        ],
    )
    assert out.metadata.annotations == {"fip.io/allocation": "{}"}
    assert out.metadata.labels == {"k": "v", "k3": "v2", "k4": "v"}
    out = core.patch_namespaced_config_map(
        "dir", ns, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x.io/a"]}}
    )
    assert out.metadata.finalizers == ["x.io/b"]
    out = core.patch_namespaced_config_map(
        "dir", ns, {"metadata": {"labels": {"$patch": "replace", "only": "this"}}}
    )
    assert out.metadata.labels == {"only": "this"}
    out = core.patch_namespaced_config_map(
        "dir", ns, {"metadata": {"labels": {"absent": None}}}, _content_type="application/merge-patch+json"
    )
    assert out.metadata.labels == {"only": "this"}
    core.patch_namespaced_config_map(
        "dir", ns, {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )


def test_strategic_merge_set_element_order(api_client: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api_client)
    spec = {"containers": [{"name": "a", "image": "b:1"}, {"name": "c", "image": "d:1"}]}
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "order"},
            "spec": {
                "selector": {"matchLabels": {"x": "y"}},
                "template": {"metadata": {"labels": {"x": "y"}}, "spec": spec},
            },
        },
    )
    patch = {
        "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
        "containers": [{"name": "a", "image": "b:2"}],
    }
    out = apps.patch_namespaced_deployment("order", ns, {"spec": {"template": {"spec": patch}}})
    assert [(c.name, c.image) for c in out.spec.template.spec.containers] == [("c", "d:1"), ("a", "b:2")]


def test_empty_patch_is_a_noop(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "np"}, "data": {"a": "1"}})
    out = core.patch_namespaced_config_map("np", ns, {})
    assert out.metadata.resource_version == cm.metadata.resource_version


def test_json_patch(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "j"}, "data": {"a": "1"}})
    out = core.patch_namespaced_config_map(
        "j",
        ns,
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": cm.metadata.resource_version},
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "replace", "path": "/data/a", "value": "9"},
            {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
        ],
    )
    assert out.data == {"a": "9", "b": "2"}
    assert out.metadata.labels == {"x": "y"}
    with pytest.raises(ApiException) as err:  # the test op fails: the RV moved on
        core.patch_namespaced_config_map(
            "j",
            ns,
            [{"op": "test", "path": "/metadata/resourceVersion", "value": cm.metadata.resource_version}],
        )
    assert err.value.status == 422
    with pytest.raises(ApiException) as err:  # removing a missing path
        core.patch_namespaced_config_map("j", ns, [{"op": "remove", "path": "/data/nope"}])
    assert err.value.status == 422
    out = core.patch_namespaced_config_map("j", ns, [{"op": "remove", "path": "/data/b"}])
    assert out.data == {"a": "9"}


def test_patch_with_stale_resource_version_is_409(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "pr"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("pr", ns, {"data": {"a": "2"}})
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "pr", ns, {"metadata": {"resourceVersion": cm.metadata.resource_version}, "data": {"a": "3"}}
        )
    assert err.value.status == 409


def test_patch_missing_is_404(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("ghost", ns, {"data": {"a": "1"}})
    assert err.value.status == 404


def _apply(core: client.CoreV1Api, ns: str, manager: str, data: dict[str, str], **kw: Any) -> Any:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": data}
    return core.patch_namespaced_config_map(
        "ssa", ns, body, field_manager=manager, _content_type="application/apply-patch+yaml", **kw
    )


def test_server_side_apply_creates_and_updates(core: client.CoreV1Api, ns: str) -> None:
    assert _apply(core, ns, "tool-a", {"a": "1"}).data == {"a": "1"}
    assert _apply(core, ns, "tool-a", {"a": "1", "b": "2"}).data == {"a": "1", "b": "2"}


def test_server_side_apply_ownership(core: client.CoreV1Api, ns: str) -> None:
    created = _apply(core, ns, "tool-a", {"a": "1", "z": "9"}, _preload_content=False)
    assert created.status == 201
    applied = _apply(core, ns, "tool-a", {"a": "1"})
    assert applied.data == {"a": "1"}  # z no longer applied by its only owner: removed
    assert [m.manager for m in applied.metadata.managed_fields] == ["tool-a"]
    with pytest.raises(ApiException) as err:
        _apply(core, ns, "tool-b", {"a": "2"})
    assert err.value.status == 409
    assert _apply(core, ns, "tool-b", {"a": "2"}, force=True).data == {"a": "2"}


def test_managed_fields_for_update_operations(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "mf"}, "data": {"v": "1"}})
    assert [(m.manager, m.operation) for m in cm.metadata.managed_fields] == [("OpenAPI-Generator", "Update")]
    out = core.patch_namespaced_config_map("mf", ns, {"data": {"w": "2"}}, field_manager="fip-ctl")
    assert ("fip-ctl", "Update") in [(m.manager, m.operation) for m in out.metadata.managed_fields]


def test_apply_requires_field_manager(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "nomgr",
            ns,
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nomgr"}},
            _content_type="application/apply-patch+yaml",
        )
    assert err.value.status == 400


def test_plain_json_patch_content_type_is_415(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "pj"}})
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("pj", ns, {"data": {"x": "1"}}, _content_type="application/json")
    assert err.value.status == 415
