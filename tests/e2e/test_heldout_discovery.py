# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of discovery (version, /api, /apis, resource lists, CRDs through
apiextensions.k8s.io) and of `kubernetes.dynamic.DynamicClient`, which is driven entirely by
discovery, against a standalone `fip-lab apiserver` through the official client only.

Real-server sources: apiserver `endpoints/discovery` (APIVersions, APIGroupList,
APIResourceList: name, singularName, namespaced, kind, verbs, shortNames, categories; subresources
listed as `pods/status`), `/version`, `/healthz`. Gaps in the lab server are `xfail(strict=True)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from heldout_server import api_client, core, custom, kubeconfig, ns, pod_body  # noqa: F401
from kubernetes import client, dynamic

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dyn(
    api_client: client.ApiClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dynamic.DynamicClient]:
    cache = tmp_path_factory.mktemp("dyn") / "discovery.json"
    yield dynamic.DynamicClient(api_client, cache_file=str(cache))


def test_version(api_client: client.ApiClient) -> None:
    info = client.VersionApi(api_client).get_code()
    assert info.major == "1" and info.minor.rstrip("+").isdigit()
    assert info.git_version.startswith("v1.")
    assert info.platform


def test_healthz(api_client: client.ApiClient) -> None:
    for path in ("/healthz", "/readyz", "/livez"):
        resp = api_client.call_api(path, "GET", auth_settings=["BearerToken"], _preload_content=False)
        assert resp.status == 200 and resp.data == b"ok", path


def test_core_api_versions(api_client: client.ApiClient) -> None:
    versions = client.CoreApi(api_client).get_api_versions()
    assert versions.kind == "APIVersions" and versions.versions == ["v1"]


def test_api_groups(api_client: client.ApiClient) -> None:
    groups = {g.name: g for g in client.ApisApi(api_client).get_api_versions().groups}
    for name in (
        "apps",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "fip.io",
        "apps.tkestack.io",
        "apiextensions.k8s.io",
    ):
        assert name in groups, name
    assert groups["apps"].preferred_version.group_version == "apps/v1"
    assert [v.group_version for v in groups["fip.io"].versions] == ["fip.io/v1"]


def test_standard_groups_listed(api_client: client.ApiClient) -> None:
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"autoscaling", "events.k8s.io", "batch", "policy", "rbac.authorization.k8s.io"} <= groups


def test_core_resource_list(api_client: client.ApiClient) -> None:
    res = {r.name: r for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert res["pods"].kind == "Pod" and res["pods"].namespaced and res["pods"].singular_name == "pod"
    assert set(res["pods"].verbs) >= {
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    }
    assert res["pods"].short_names == ["po"]
    assert res["nodes"].namespaced is False
    assert "pods/status" in res and "pods/binding" in res
    assert res["pods/binding"].kind == "Binding" and res["pods/binding"].verbs == ["create"]


def test_apps_scale_subresource_is_listed(api_client: client.ApiClient) -> None:
    res = {r.name: r for r in client.AppsV1Api(api_client).get_api_resources().resources}
    scale = res["deployments/scale"]
    assert scale.kind == "Scale" and scale.group == "autoscaling" and scale.version == "v1"


def fip_resources(api_client: client.ApiClient) -> dict[str, client.V1APIResource]:
    """fip.io/v1's APIResourceList by resource name. The client has no typed call for a CRD
    group's discovery document, so this is the raw GET a client script would make."""
    rl = api_client.call_api(
        "/apis/fip.io/v1",
        "GET",
        auth_settings=["BearerToken"],
        response_types_map={200: "V1APIResourceList"},
        _return_http_data_only=True,
    )
    return {r.name: r for r in rl.resources}


def test_crd_resource_list(api_client: client.ApiClient) -> None:
    res = fip_resources(api_client)
    assert res["subnets"].kind == "Subnet" and res["subnets"].namespaced is False
    assert res["subnets"].short_names == ["fsn"]
    assert "subnets/status" in res


def test_crd_categories_in_discovery(api_client: client.ApiClient) -> None:
    res = fip_resources(api_client)
    assert res["subnets"].categories == ["fip"] and res["pools"].categories == ["fip"]


def test_crds_are_listed_by_apiextensions(api_client: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api_client)
    crd = ext.read_custom_resource_definition("subnets.fip.io")
    assert crd.spec.group == "fip.io" and crd.spec.scope == "Cluster"
    assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
    names = [c.metadata.name for c in ext.list_custom_resource_definition().items]
    assert {"subnets.fip.io", "pools.fip.io", "tapps.apps.tkestack.io"} <= set(names)


def test_create_crd_at_runtime(
    api_client: client.ApiClient, custom: client.CustomObjectsApi, ns: str
) -> None:
    ext = client.ApiextensionsV1Api(api_client)
    ext.create_custom_resource_definition(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {
                    "plural": "widgets",
                    "singular": "widget",
                    "kind": "Widget",
                    "listKind": "WidgetList",
                },
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }
    )
    w = custom.create_namespaced_custom_object(
        "example.com",
        "v1",
        ns,
        "widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1}},
    )
    assert w["spec"] == {"a": 1}


# --- dynamic client -------------------------------------------------------------------------------


def test_dynamic_pod_crud(dyn: dynamic.DynamicClient, ns: str) -> None:
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    assert pods.namespaced and pods.name == "pods"
    created = pods.create(body=pod_body("dp", labels={"d": "1"}), namespace=ns)
    assert created.metadata.name == "dp" and created.metadata.uid
    got = pods.get(name="dp", namespace=ns)
    assert got.spec.containers[0].image == "busybox"
    listed = pods.get(namespace=ns, label_selector="d=1")
    assert [i.metadata.name for i in listed.items] == ["dp"]
    patched = pods.patch(
        name="dp",
        namespace=ns,
        body={"metadata": {"labels": {"e": "2"}}},
        content_type="application/merge-patch+json",
    )
    assert patched.to_dict()["metadata"]["labels"] == {"d": "1", "e": "2"}
    pods.delete(name="dp", namespace=ns)
    with pytest.raises(dynamic.exceptions.NotFoundError):
        pods.get(name="dp", namespace=ns)


def test_dynamic_status_and_scale_subresources(dyn: dynamic.DynamicClient, ns: str) -> None:
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    pods.create(body=pod_body("ds", node="n1"), namespace=ns)
    st = pods.status.patch(
        name="ds",
        namespace=ns,
        body={"status": {"phase": "Running"}},
        content_type="application/merge-patch+json",
    )
    assert st.status.phase == "Running"
    deps = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    deps.create(
        namespace=ns,
        body={
            "metadata": {"name": "dd"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod_body("x")["spec"]},
            },
        },
    )
    scale = deps.subresources["scale"]
    out = scale.patch(
        name="dd", namespace=ns, body={"spec": {"replicas": 4}}, content_type="application/merge-patch+json"
    )
    assert out.spec.replicas == 4
    assert deps.get(name="dd", namespace=ns).spec.replicas == 4


def test_dynamic_custom_resources(dyn: dynamic.DynamicClient) -> None:
    subnets = dyn.resources.get(api_version="fip.io/v1", kind="Subnet")
    assert subnets.namespaced is False
    body = {
        "apiVersion": "fip.io/v1",
        "kind": "Subnet",
        "metadata": {"name": "h-dyn"},
        "spec": {"cidr": "10.9.0.0/24", "gateway": "10.9.0.1", "nodeCIDRs": ["192.168.9.0/24"]},
    }
    subnets.create(body=body)
    st = subnets.status.patch(
        name="h-dyn", body={"status": {"total": 253}}, content_type="application/merge-patch+json"
    )
    assert st.status.total == 253
    assert "h-dyn" in [i.metadata.name for i in subnets.get().items]
    by_short: Any = dyn.resources.get(short_names=["fsn"])
    assert by_short.kind == "Subnet"
    subnets.delete(name="h-dyn")


def test_dynamic_watch(dyn: dynamic.DynamicClient, core: client.CoreV1Api, ns: str) -> None:
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    core.create_namespaced_config_map(ns, {"metadata": {"name": "dw"}})
    seen = []
    for ev in cms.watch(namespace=ns, timeout=2):
        seen.append((ev["type"], ev["object"].metadata.name))
        break
    assert seen == [("ADDED", "dw")]


def test_dynamic_server_side_errors(dyn: dynamic.DynamicClient, ns: str) -> None:
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    cms.create(body={"metadata": {"name": "dup"}}, namespace=ns)
    with pytest.raises(dynamic.exceptions.ConflictError):
        cms.create(body={"metadata": {"name": "dup"}}, namespace=ns)
    with pytest.raises(dynamic.exceptions.UnprocessibleEntityError):
        cms.create(body={"metadata": {"name": "Bad_Name"}}, namespace=ns)


def test_dynamic_version_and_list_kinds(dyn: dynamic.DynamicClient, ns: str) -> None:
    assert dyn.version["kubernetes"]["major"] == "1"
    tapps = dyn.resources.get(api_version="apps.tkestack.io/v1", kind="TApp")
    assert tapps.namespaced and "scale" in tapps.subresources and "status" in tapps.subresources
    tapps.create(
        namespace=ns,
        body={
            "apiVersion": "apps.tkestack.io/v1",
            "kind": "TApp",
            "metadata": {"name": "t"},
            "spec": {"replicas": 2},
        },
    )
    scale = tapps.subresources["scale"].get(name="t", namespace=ns)
    assert scale.spec.replicas == 2
    got = tapps.replace(
        namespace=ns,
        body={
            "apiVersion": "apps.tkestack.io/v1",
            "kind": "TApp",
            "metadata": {
                "name": "t",
                "resourceVersion": tapps.get(name="t", namespace=ns).metadata.resourceVersion,
            },
            "spec": {"replicas": 3},
        },
    )
    assert got.spec.replicas == 3


def test_dynamic_unknown_kind(dyn: dynamic.DynamicClient) -> None:
    with pytest.raises(dynamic.exceptions.ResourceNotFoundError):
        dyn.resources.get(api_version="v1", kind="NoSuchKind")
