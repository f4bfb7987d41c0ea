# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of the fip.io CRDs (Subnet, Pool; cluster-scoped, status subresource) and
apps.tkestack.io TApps (namespaced; status + scale) through CustomObjectsApi against a standalone
`fip-lab apiserver`: CRUD, generation, status/scale subresources, structural schema (defaults,
pruning, OpenAPI and CEL validation), envelope checks, selectors. Real-server source:
apiextensions-apiserver `pkg/registry/customresource`, `pkg/apiserver/schema`.
"""

from __future__ import annotations

from typing import Any

import pytest
from heldout_server import api_client, core, custom, kubeconfig, ns, pod_body, status_body  # noqa: F401
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


def subnet(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "fip.io/v1",
        "kind": "Subnet",
        "metadata": {"name": name},
        "spec": {
            "cidr": "10.0.1.0/24",
            "gateway": "10.0.1.1",
            "nodeSelector": {"matchLabels": {"fip.io/l2": "a"}},
        }
        | spec,
    }


def pool(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A Pool body with exactly the given spec (no defaults: several tests need odd sizes)."""
    metadata: dict[str, Any] = {"name": name} | ({"labels": labels} if labels else {})
    return {"apiVersion": "fip.io/v1", "kind": "Pool", "metadata": metadata, "spec": spec}


def test_subnet_crud_and_status_subresource(custom: client.CustomObjectsApi) -> None:
    body = subnet("h-dc1")
    body["status"] = {"total": 99}
    created = custom.create_cluster_custom_object("fip.io", "v1", "subnets", body)
    assert created["kind"] == "Subnet" and created["apiVersion"] == "fip.io/v1"
    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
    assert "namespace" not in created["metadata"]
    assert "status" not in created  # status subresource: create drops status
    listed = custom.list_cluster_custom_object("fip.io", "v1", "subnets")
    assert listed["kind"] == "SubnetList" and listed["metadata"]["resourceVersion"]
    assert "h-dc1" in [i["metadata"]["name"] for i in listed["items"]]

    st = custom.patch_cluster_custom_object_status(
        "fip.io", "v1", "subnets", "h-dc1", {"status": {"total": 254, "allocated": 1, "free": 253}}
    )
    assert st["status"]["total"] == 254 and st["metadata"]["generation"] == 1
    ignored = custom.patch_cluster_custom_object("fip.io", "v1", "subnets", "h-dc1", {"status": {"total": 1}})
    assert ignored["status"]["total"] == 254  # main endpoint ignores status
    sp = custom.patch_cluster_custom_object("fip.io", "v1", "subnets", "h-dc1", {"spec": {"vlan": 12}})
    assert sp["spec"]["vlan"] == 12 and sp["metadata"]["generation"] == 2
    st2 = custom.get_cluster_custom_object_status("fip.io", "v1", "subnets", "h-dc1")
    assert st2["status"]["free"] == 253

    obj = custom.get_cluster_custom_object("fip.io", "v1", "subnets", "h-dc1")
    obj["spec"]["excluded"] = ["10.0.1.100"]
    rep = custom.replace_cluster_custom_object("fip.io", "v1", "subnets", "h-dc1", obj)
    assert rep["spec"]["excluded"] == ["10.0.1.100"]
    with pytest.raises(ApiException) as err:
        custom.replace_cluster_custom_object("fip.io", "v1", "subnets", "h-dc1", obj)  # stale RV
    assert err.value.status == 409

    custom.delete_cluster_custom_object("fip.io", "v1", "subnets", "h-dc1")
    with pytest.raises(ApiException) as err:
        custom.get_cluster_custom_object("fip.io", "v1", "subnets", "h-dc1")
    assert err.value.status == 404
    body404 = status_body(err.value)
    assert body404["message"] == 'subnets.fip.io "h-dc1" not found'
    assert body404["details"] == {"name": "h-dc1", "group": "fip.io", "kind": "subnets"}


def test_subnet_schema_default(custom: client.CustomObjectsApi) -> None:
    created = custom.create_cluster_custom_object("fip.io", "v1", "subnets", subnet("h-default"))
    custom.delete_cluster_custom_object("fip.io", "v1", "subnets", "h-default")
    assert created["spec"]["vlan"] == 0


def test_subnet_schema_validation(custom: client.CustomObjectsApi) -> None:
    bad = [
        subnet("h-v1", vlan=5000),  # maximum 4094
        {
            "apiVersion": "fip.io/v1",
            "kind": "Subnet",
            "metadata": {"name": "h-v3"},
            "spec": {"cidr": "10.0.0.0/8"},
        },
        subnet("h-v4", ranges="10.0.1.1"),  # type: array
    ]
    for body in bad:
        with pytest.raises(ApiException) as err:
            custom.create_cluster_custom_object("fip.io", "v1", "subnets", body)
        assert err.value.status == 422, body
        sb = status_body(err.value)
        assert sb["reason"] == "Invalid" and sb["details"]["kind"] == "Subnet"
        assert sb["details"]["causes"], sb


def test_subnet_schema_pattern(custom: client.CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as err:
        custom.create_cluster_custom_object("fip.io", "v1", "subnets", subnet("h-pattern", cidr="not a cidr"))
    assert err.value.status == 422
    assert "should match" in status_body(err.value)["message"]


def test_subnet_cel_rule(custom: client.CustomObjectsApi) -> None:
    body = subnet("h-cel")
    del body["spec"]["nodeSelector"]
    with pytest.raises(ApiException) as err:
        custom.create_cluster_custom_object("fip.io", "v1", "subnets", body)
    assert err.value.status == 422
    assert "a subnet needs nodes" in status_body(err.value)["message"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"excluded": ["10.0.1.5", "10.0.1.5"]}, "Duplicate value"),  # x-kubernetes-list-type: set
        ({"gateway": "1" * 40}, "spec.gateway"),  # maxLength 39
        ({"nodeSelector": {"matchLabels": {"a": "bad value!"}}}, "spec.nodeSelector.matchLabels.a"),
        ({"ranges": ["10.0.1.1"] * 257}, "spec.ranges"),  # maxItems 256
        ({"vlan": "x"}, "spec.vlan"),  # type integer
    ],
)
def test_subnet_schema_rules(custom: client.CustomObjectsApi, extra: dict[str, Any], needle: str) -> None:
    with pytest.raises(ApiException) as err:
        custom.create_cluster_custom_object("fip.io", "v1", "subnets", subnet("h-rules", **extra))
    assert err.value.status == 422
    assert needle in status_body(err.value)["message"]


def test_subnet_status_schema(custom: client.CustomObjectsApi) -> None:
    custom.create_cluster_custom_object("fip.io", "v1", "subnets", subnet("h-st"))
    with pytest.raises(ApiException) as err:
        custom.patch_cluster_custom_object_status(
            "fip.io", "v1", "subnets", "h-st", {"status": {"total": -1}}
        )
    assert err.value.status == 422
    out = custom.patch_cluster_custom_object_status(
        "fip.io", "v1", "subnets", "h-st", {"status": {"total": 1, "bogus": 2}}
    )
    assert out["status"] == {"total": 1}  # unknown status fields pruned


def test_subnet_unknown_fields_pruned(custom: client.CustomObjectsApi) -> None:
    body = subnet("h-prune", bogus="x")
    body["extra"] = 1
    created = custom.create_cluster_custom_object("fip.io", "v1", "subnets", body)
    assert "bogus" not in created["spec"] and "extra" not in created
    custom.delete_cluster_custom_object("fip.io", "v1", "subnets", "h-prune")


def test_custom_object_unknown_fields_warn_or_fail_strict(custom: client.CustomObjectsApi) -> None:
    body = {"apiVersion": "fip.io/v1", "kind": "Pool", "metadata": {"name": "h-warn"}}
    body["spec"] = {"subnet": "a", "size": 1, "bogus": 1}
    raw = custom.create_cluster_custom_object("fip.io", "v1", "pools", body, _preload_content=False)
    assert raw.status == 201
    assert raw.headers.get("Warning") == '299 - "unknown field \\"spec.bogus\\""'
    body["metadata"] = {"name": "h-strict"}
    with pytest.raises(ApiException) as err:
        custom.create_cluster_custom_object("fip.io", "v1", "pools", body, field_validation="Strict")
    assert err.value.status == 400
    assert ".spec.bogus: field not declared in schema" in status_body(err.value)["message"]


def test_pool_label_selector_and_json_patch(custom: client.CustomObjectsApi) -> None:
    for name, team in (("h-p1", "db"), ("h-p2", "web")):
        custom.create_cluster_custom_object(
            "fip.io", "v1", "pools", pool(name, {"team": team}, subnet="dc1-a", size=4, namespaces=["db"])
        )
    got = custom.list_cluster_custom_object("fip.io", "v1", "pools", label_selector="team=db")
    assert [i["metadata"]["name"] for i in got["items"]] == ["h-p1"]
    out = custom.patch_cluster_custom_object(
        "fip.io",
        "v1",
        "pools",
        "h-p1",
        [{"op": "replace", "path": "/spec/size", "value": 8}],
        _content_type="application/json-patch+json",
    )
    assert out["spec"]["size"] == 8
    page = custom.list_cluster_custom_object("fip.io", "v1", "pools", limit=1)
    assert len(page["items"]) == 1 and page["metadata"]["continue"]


def test_strategic_merge_patch_on_custom_resource_is_415(custom: client.CustomObjectsApi) -> None:
    custom.create_cluster_custom_object("fip.io", "v1", "pools", pool("h-smp", subnet="a", size=1))
    with pytest.raises(ApiException) as err:
        custom.patch_cluster_custom_object(
            "fip.io",
            "v1",
            "pools",
            "h-smp",
            {"spec": {"size": 2}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert err.value.status == 415


def test_custom_object_field_selector_by_name(custom: client.CustomObjectsApi) -> None:
    for name in ("h-fs1", "h-fs2"):
        custom.create_cluster_custom_object("fip.io", "v1", "pools", pool(name, subnet="a", size=1))
    got = custom.list_cluster_custom_object("fip.io", "v1", "pools", field_selector="metadata.name=h-fs2")
    assert [i["metadata"]["name"] for i in got["items"]] == ["h-fs2"]
    with pytest.raises(ApiException) as err:
        custom.list_cluster_custom_object("fip.io", "v1", "pools", field_selector="spec.size=1")
    assert err.value.status == 400  # CRDs without selectableFields support metadata.name/namespace only


def test_custom_object_envelope_checks(custom: client.CustomObjectsApi) -> None:
    spec = {"subnet": "a", "size": 1}
    for envelope in (
        {"apiVersion": "fip.io/v2", "kind": "Pool"},
        {"apiVersion": "fip.io/v1", "kind": "Subnet"},
    ):
        with pytest.raises(ApiException) as err:
            custom.create_cluster_custom_object(
                "fip.io", "v1", "pools", {**envelope, "metadata": {"name": "h-env"}, "spec": spec}
            )
        assert err.value.status == 400, envelope


def test_custom_object_without_kind_is_400(custom: client.CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as err:
        custom.create_cluster_custom_object(
            "fip.io", "v1", "pools", {"apiVersion": "fip.io/v1", "metadata": {"name": "h-nokind"}, "spec": {}}
        )
    assert err.value.status == 400
    assert "Object 'Kind' is missing" in status_body(err.value)["message"]


def test_int64_round_trip(custom: client.CustomObjectsApi) -> None:
    big = 2**63 - 1
    custom.create_cluster_custom_object("fip.io", "v1", "pools", pool("h-big", subnet="a", size=big))
    assert custom.get_cluster_custom_object("fip.io", "v1", "pools", "h-big")["spec"]["size"] == big


def test_cluster_scoped_crd_has_no_namespaced_path(custom: client.CustomObjectsApi, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object("fip.io", "v1", ns, "subnets")
    assert err.value.status == 404


def test_unknown_custom_resource_is_404(custom: client.CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as err:
        custom.list_cluster_custom_object("fip.io", "v1", "widgets")
    assert err.value.status == 404


def tapp(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps.tkestack.io/v1",
        "kind": "TApp",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_body("x")["spec"]},
            "statuses": {"1": "Killed"},
        },
    }


def test_tapp_crud_scale_and_status(custom: client.CustomObjectsApi, ns: str) -> None:
    g, v, p = "apps.tkestack.io", "v1", "tapps"
    created = custom.create_namespaced_custom_object(g, v, ns, p, tapp("t", 3))
    assert created["metadata"]["namespace"] == ns and created["spec"]["statuses"] == {"1": "Killed"}
    custom.patch_namespaced_custom_object_status(
        g,
        v,
        ns,
        p,
        "t",
        {"status": {"replicas": 3, "scaleLabelSelector": "app=t", "statuses": {"0": "Running"}}},
    )
    scale = custom.get_namespaced_custom_object_scale(g, v, ns, p, "t")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 3
    assert scale["status"] == {"replicas": 3, "selector": "app=t"}
    out = custom.patch_namespaced_custom_object_scale(g, v, ns, p, "t", {"spec": {"replicas": 1}})
    assert out["spec"]["replicas"] == 1
    assert custom.get_namespaced_custom_object(g, v, ns, p, "t")["spec"]["replicas"] == 1
    assert [i["metadata"]["name"] for i in custom.list_namespaced_custom_object(g, v, ns, p)["items"]] == [
        "t"
    ]
    everywhere = custom.list_cluster_custom_object(g, v, p)
    assert (ns, "t") in [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]]
    custom.delete_namespaced_custom_object(g, v, ns, p, "t")
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(g, v, ns, p, "t")
    assert err.value.status == 404


def test_custom_objects_api_surface(custom: client.CustomObjectsApi, ns: str) -> None:
    g, v, p = "apps.tkestack.io", "v1", "tapps"
    assert {r.name for r in custom.get_api_resources("fip.io", "v1").resources} >= {
        "subnets",
        "subnets/status",
    }
    body = {"apiVersion": f"{g}/{v}", "kind": "TApp", "metadata": {"name": "s"}, "spec": {"replicas": 1}}
    custom.create_namespaced_custom_object(g, v, ns, p, body)
    everywhere = custom.list_custom_object_for_all_namespaces(g, v, p)["items"]
    assert (ns, "s") in [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere]
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "s", "namespace": ns}}
    out = custom.replace_namespaced_custom_object_scale(g, v, ns, p, "s", {**scale, "spec": {"replicas": 4}})
    assert out["spec"]["replicas"] == 4
    st = custom.get_namespaced_custom_object_status(g, v, ns, p, "s")
    st["status"] = {"replicas": 4}
    assert custom.replace_namespaced_custom_object_status(g, v, ns, p, "s", st)["status"] == {"replicas": 4}
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(g, v, ns, p, "missing")
    assert status_body(err.value)["message"] == 'tapps.apps.tkestack.io "missing" not found'
    custom.delete_collection_namespaced_custom_object(g, v, ns, p)
    assert custom.list_namespaced_custom_object(g, v, ns, p)["items"] == []
