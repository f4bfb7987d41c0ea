"""The fake API server through the official client: writes, reads, patches, binding, deletion,
errors. Each test states the kube-apiserver behaviour it holds the fake to."""

# ruff: noqa: F811  (fixtures imported from apiserver_lab are re-bound as test parameters)

from __future__ import annotations

import json
from typing import Any

import pytest
from apiserver_lab import api, api_client, core, kubeconfig, ns, pod, wait_for  # noqa: F401
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.apiserver import APIServer

pytestmark = pytest.mark.e2e


def status_of(exc: ApiException) -> dict[str, object]:
    body: dict[str, object] = json.loads(exc.body)
    return body


def test_server_sets_metadata_and_list_carries_kind_and_rv(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_pod(ns, pod("a"))
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert int(created.metadata.resource_version) > 0
    assert created.metadata.generation == 1
    assert created.status.phase == "Pending"
    raw = json.loads(core.list_namespaced_pod(ns, _preload_content=False).data)
    assert raw["kind"] == "PodList" and raw["apiVersion"] == "v1"
    assert int(raw["metadata"]["resourceVersion"]) >= int(created.metadata.resource_version)
    assert [i["metadata"]["name"] for i in raw["items"]] == ["a"]


def test_generate_name(core: client.CoreV1Api, ns: str) -> None:
    body = pod("")
    body["metadata"] = {"generateName": "web-"}
    created = core.create_namespaced_pod(ns, body)
    assert created.metadata.name.startswith("web-") and len(created.metadata.name) == 9


def test_stale_resource_version_is_409_and_store_unchanged(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"k": "1"}})
    cm.data = {"k": "2"}
    updated = core.replace_namespaced_config_map("cm", ns, cm)
    assert int(updated.metadata.resource_version) > int(cm.metadata.resource_version)
    cm.data = {"k": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cm", ns, cm)
    assert err.value.status == 409
    body = status_of(err.value)
    assert body["reason"] == "Conflict" and body["kind"] == "Status"
    assert "the object has been modified" in str(body["message"])
    assert core.read_namespaced_config_map("cm", ns).data == {"k": "2"}


def test_noop_update_keeps_resource_version(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "same"}, "data": {"k": "v"}})
    again = core.replace_namespaced_config_map("same", ns, cm)
    assert again.metadata.resource_version == cm.metadata.resource_version


def test_not_found_and_already_exists_status_bodies(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("missing", ns)
    assert err.value.status == 404
    assert status_of(err.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "missing" not found',
        "reason": "NotFound",
        "details": {"name": "missing", "group": "", "kind": "pods"},
        "code": 404,
    } | {"details": status_of(err.value)["details"]}
    core.create_namespaced_pod(ns, pod("dup"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(ns, pod("dup"))
    assert err.value.status == 409 and status_of(err.value)["reason"] == "AlreadyExists"


def test_namespace_must_exist(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("no-such-ns", pod("x"))
    assert err.value.status == 404 and status_of(err.value)["message"] == 'namespaces "no-such-ns" not found'


def test_label_and_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("a", labels={"app": "web", "tier": "fe"}))
    core.create_namespaced_pod(ns, pod("b", node="n1", labels={"app": "web"}))
    core.create_namespaced_pod(ns, pod("c", node="n2", labels={"app": "db"}))

    def names(**kw: str) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod(ns, **kw).items]

    assert names(label_selector="app=web") == ["a", "b"]
    assert names(label_selector="app in (web,db),!tier") == ["b", "c"]
    assert names(label_selector="app!=web") == ["c"]
    assert names(label_selector="tier") == ["a"]
    assert names(field_selector="spec.nodeName=n1") == ["b"]
    assert names(field_selector="spec.nodeName=") == ["a"]
    assert names(field_selector="metadata.name!=a,status.phase=Pending") == ["b", "c"]
    every = [
        p.metadata.name
        for p in core.list_pod_for_all_namespaces(field_selector=f"metadata.namespace={ns}").items
    ]
    assert every == ["a", "b", "c"]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod(ns, field_selector="spec.bogus=1")
    assert err.value.status == 400


def test_limit_and_continue(core: client.CoreV1Api, ns: str) -> None:
    for i in range(7):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"cm-{i}"}})
    seen, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map(ns, limit=3, _continue=token)
        pages += 1
        seen += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 7 - len(seen)
    assert pages == 3 and seen == [f"cm-{i}" for i in range(7)]


def test_continue_token_expires_after_compaction(api: APIServer, core: client.CoreV1Api, ns: str) -> None:
    for i in range(3):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"x-{i}"}})
    page = core.list_namespaced_config_map(ns, limit=1)
    api.control.compact()
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, limit=1, _continue=page.metadata._continue)
    assert err.value.status == 410 and status_of(err.value)["reason"] == "Expired"


def test_patch_types(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("p", labels={"a": "1", "b": "2"}))
    # dict body -> strategic merge patch: containers merge by name, labels merge, null deletes
    smp = {
        "metadata": {"labels": {"b": None, "c": "3"}},
        "spec": {"containers": [{"name": "app", "image": "busybox:2"}]},
    }
    out = core.patch_namespaced_pod("p", ns, smp)
    assert out.metadata.labels == {"a": "1", "c": "3"}
    assert [(c.name, c.image) for c in out.spec.containers] == [("app", "busybox:2")]
    # JSON merge patch
    out = core.patch_namespaced_pod(
        "p", ns, {"metadata": {"annotations": {"x": "y"}}}, _content_type="application/merge-patch+json"
    )
    assert out.metadata.annotations == {"x": "y"}
    # list body -> JSON patch, with a test op
    ops = [
        {"op": "test", "path": "/metadata/labels/a", "value": "1"},
        {"op": "add", "path": "/metadata/labels/d", "value": "4"},
        {"op": "remove", "path": "/metadata/annotations/x"},
    ]
    out = core.patch_namespaced_pod("p", ns, ops)
    assert out.metadata.labels == {"a": "1", "c": "3", "d": "4"} and not out.metadata.annotations


def test_failed_patches_leave_the_store_unchanged(
    api: APIServer, api_client: client.ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    before = core.create_namespaced_pod(ns, pod("p", labels={"a": "1"}))
    cases = [
        ([{"op": "test", "path": "/metadata/labels/a", "value": "2"}], 422),
        ([{"op": "remove", "path": "/metadata/labels/zzz"}], 422),
        ({"spec": {"nodeName": "sneaky"}}, 422),  # pod spec is immutable
        ({"metadata": {"name": "Bad_Name"}}, 400),
        ({"metadata": {"resourceVersion": "1"}}, 409),
        ({"metadata": {"labels": {"bad key!": "v"}}}, 422),
    ]
    for body, code in cases:
        with pytest.raises(ApiException) as err:
            core.patch_namespaced_pod("p", ns, body)
        assert err.value.status == code, (body, err.value.body)
        assert status_of(err.value)["kind"] == "Status"
    after = core.read_namespaced_pod("p", ns)
    assert after.metadata.resource_version == before.metadata.resource_version
    resp = api_client.rest_client.pool_manager.request(
        "PATCH",
        f"{api.url}/api/v1/namespaces/{ns}/pods/p",
        body=b"{}",
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status == 415 and json.loads(resp.data)["reason"] == "UnsupportedMediaType"


def test_bad_input(api: APIServer, core: client.CoreV1Api, api_client: client.ApiClient, ns: str) -> None:
    rv_before = api.storage.resource_version

    def post(path: str, body: bytes, ctype: str | None = "application/json") -> tuple[int, dict[str, object]]:
        headers = {"Content-Type": ctype} if ctype else {}
        resp = api_client.rest_client.pool_manager.request("POST", api.url + path, body=body, headers=headers)
        return resp.status, json.loads(resp.data)

    pods_path = f"/api/v1/namespaces/{ns}/pods"
    code, body = post(pods_path, b"{not json")
    assert code == 400 and body["reason"] == "BadRequest"
    code, body = post(
        pods_path, json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}).encode()
    )
    assert code == 400 and "cannot be handled as a Pod" in str(body["message"])
    code, body = post(
        pods_path, json.dumps({"apiVersion": "apps/v1", "kind": "Pod", "metadata": {"name": "x"}}).encode()
    )
    assert code == 400 and "does not match the expected API version" in str(body["message"])
    code, body = post(pods_path, json.dumps(pod("Bad_Name")).encode())
    assert code == 422 and body["reason"] == "Invalid"
    causes = body["details"]["causes"]  # type: ignore[index]
    assert causes[0]["field"] == "metadata.name"
    code, body = post(pods_path, json.dumps(pod("x" * 254)).encode())
    assert code == 422
    code, body = post(pods_path, json.dumps({"metadata": {"name": "nospec"}, "spec": {}}).encode())
    assert code == 422 and "spec.containers: Required value" in str(body["message"])
    code, body = post(pods_path, json.dumps({"metadata": {}}).encode())
    assert code == 422 and "name or generateName is required" in str(body["message"])
    code, body = post("/api/v1/namespaces", json.dumps({"metadata": {"name": "a.b"}}).encode())
    assert code == 422  # namespaces are DNS-1123 labels: no dots
    code, body = post(
        pods_path + "?fieldValidation=Strict", json.dumps({**pod("strict"), "bogus": 1}).encode()
    )
    assert code == 400 and 'unknown field "bogus"' in str(body["message"])
    code, body = post(pods_path, json.dumps({**pod("nocontenttype")}).encode(), ctype=None)
    assert code == 201  # a missing Content-Type is JSON
    assert api.storage.count("pods") >= 1
    assert int(api.storage.resource_version) == int(rv_before) + 1  # only the valid create was stored


def test_binding(api: APIServer, core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_pod(ns, pod("web-0", labels={"app": "web"}))
    body = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "web-0", "uid": "not-the-uid", "annotations": {"fip.io/allocation": "{}"}},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"},
    }
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("web-0", ns, body, _preload_content=False)
    assert err.value.status == 409 and "Precondition failed: UID" in status_of(err.value)["message"]  # type: ignore[operator]
    assert core.read_namespaced_pod("web-0", ns).spec.node_name is None
    body["metadata"]["uid"] = created.metadata.uid  # type: ignore[index]
    resp = core.create_namespaced_pod_binding("web-0", ns, body, _preload_content=False)
    assert resp.status == 201 and json.loads(resp.data)["status"] == "Success"
    bound = core.read_namespaced_pod("web-0", ns)
    assert bound.spec.node_name == "node-a"
    assert bound.metadata.annotations == {"fip.io/allocation": "{}"}
    assert [(c.type, c.status) for c in bound.status.conditions] == [("PodScheduled", "True")]
    body["target"]["name"] = "node-b"  # type: ignore[index]
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("web-0", ns, body, _preload_content=False)
    assert err.value.status == 409 and "already assigned" in status_of(err.value)["message"]  # type: ignore[operator]
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding(
            "missing", ns, {**body, "metadata": {"name": "missing"}}, _preload_content=False
        )
    assert err.value.status == 404
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding(
            "web-0", ns, {**body, "metadata": {"name": "other"}}, _preload_content=False
        )
    assert err.value.status == 400


def test_graceful_deletion(api: APIServer, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("unscheduled"))
    core.delete_namespaced_pod("unscheduled", ns)
    with pytest.raises(ApiException):
        core.read_namespaced_pod("unscheduled", ns)  # an unscheduled pod goes at once
    core.create_namespaced_pod(ns, pod("running", node="n1"))
    deleted = core.delete_namespaced_pod("running", ns)
    assert deleted.metadata.deletion_timestamp is not None
    still = core.read_namespaced_pod("running", ns)
    assert still.metadata.deletion_grace_period_seconds == 30
    core.delete_namespaced_pod("running", ns, grace_period_seconds=0)  # the kubelet confirms
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("running", ns)
    assert err.value.status == 404
    core.create_namespaced_pod(ns, pod("short", node="n1"))
    core.delete_namespaced_pod("short", ns, grace_period_seconds=1)
    wait_for(lambda: api.storage.try_get("pods", "short", ns) is None, 4.0, "grace period expiry")


def test_finalizers_hold_deletion(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "f", "finalizers": ["fip.io/ip-release"]}})
    core.delete_namespaced_config_map("f", ns)
    held = core.read_namespaced_config_map("f", ns)
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("f", ns, {"metadata": {"finalizers": ["fip.io/ip-release", "new"]}})
    assert err.value.status == 422
    core.patch_namespaced_config_map("f", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("f", ns)
    assert err.value.status == 404


def test_owner_reference_cascade(
    api: APIServer, api_client: client.ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    apps = client.AppsV1Api(api_client)
    rs = apps.create_namespaced_replica_set(
        ns,
        {
            "metadata": {"name": "rs"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "w"}},
                "template": {
                    "metadata": {"labels": {"app": "w"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    )
    ref = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "rs",
        "uid": rs.metadata.uid,
        "controller": True,
    }
    for i in range(2):
        body = pod(f"rs-{i}", labels={"app": "w"})
        body["metadata"]["ownerReferences"] = [ref]
        core.create_namespaced_pod(ns, body)
    apps.delete_namespaced_replica_set("rs", ns)
    wait_for(
        lambda: not core.list_namespaced_pod(ns, label_selector="app=w").items, 5.0, "dependents deleted"
    )
    # Orphan propagation strips the reference and keeps the dependent.
    rs2 = apps.create_namespaced_replica_set(
        ns,
        {
            "metadata": {"name": "rs2"},
            "spec": {
                "selector": {"matchLabels": {"app": "o"}},
                "template": {
                    "metadata": {"labels": {"app": "o"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    )
    body = pod("kept", labels={"app": "o"})
    body["metadata"]["ownerReferences"] = [{**ref, "name": "rs2", "uid": rs2.metadata.uid}]
    core.create_namespaced_pod(ns, body)
    apps.delete_namespaced_replica_set("rs2", ns, propagation_policy="Orphan")
    wait_for(lambda: api.storage.try_get("replicasets.apps", "rs2", ns) is None, 5.0, "owner gone")
    kept = core.read_namespaced_pod("kept", ns)
    assert not kept.metadata.owner_references


def test_scale_subresource(api_client: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_stateful_set(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 3,
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    )
    scale = apps.read_namespaced_stateful_set_scale("web", ns)
    assert scale.spec.replicas == 3 and scale.status.selector == "app=web"
    apps.patch_namespaced_stateful_set_scale("web", ns, {"spec": {"replicas": 1}})
    sts = apps.read_namespaced_stateful_set("web", ns)
    assert sts.spec.replicas == 1 and sts.metadata.generation == 2


def test_status_subresource(api_client: client.ApiClient, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("s", node="n1"))
    out = core.patch_namespaced_pod_status("s", ns, {"status": {"phase": "Running", "podIP": "10.0.1.5"}})
    assert out.status.phase == "Running" and out.status.pod_ip == "10.0.1.5"
    # The main resource ignores status changes; the status subresource ignores spec changes.
    out = core.patch_namespaced_pod(
        "s", ns, {"status": {"phase": "Failed"}, "metadata": {"labels": {"x": "y"}}}
    )
    assert out.status.phase == "Running" and out.metadata.labels == {"x": "y"}
    assert core.list_namespaced_pod(ns, field_selector="status.phase=Running").items[0].metadata.name == "s"


def test_custom_resources(api: APIServer, api_client: client.ApiClient) -> None:
    crs = client.CustomObjectsApi(api_client)
    subnet = {
        "apiVersion": "fip.io/v1",
        "kind": "Subnet",
        "metadata": {"name": "dc1-a"},
        "spec": {"cidr": "10.0.1.0/24", "gateway": "10.0.1.1", "nodeCIDRs": ["192.168.1.0/24"]},
        "status": {"total": 250},
    }
    made = crs.create_cluster_custom_object("fip.io", "v1", "subnets", subnet)
    assert "status" not in made and made["metadata"]["generation"] == 1
    assert made["spec"]["vlan"] == 0  # schema default
    for bad in ({"cidr": "not a cidr"}, {"nodeCIDRs": None}, {"excluded": ["10.0.1.5", "10.0.1.5"]}):
        with pytest.raises(ApiException) as err:
            crs.patch_cluster_custom_object("fip.io", "v1", "subnets", "dc1-a", {"spec": bad})
        assert err.value.status == 422, bad
    out = crs.patch_cluster_custom_object_status(
        "fip.io", "v1", "subnets", "dc1-a", {"status": {"total": 250, "free": 250}}
    )
    assert out["status"] == {"total": 250, "free": 250} and out["metadata"]["generation"] == 1
    out = crs.patch_cluster_custom_object("fip.io", "v1", "subnets", "dc1-a", {"spec": {"vlan": 7}})
    assert out["spec"]["vlan"] == 7 and out["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as err:
        crs.patch_cluster_custom_object("fip.io", "v1", "subnets", "dc1-a", {"spec": {"vlan": "seven"}})
    assert err.value.status == 422
    listed = crs.list_cluster_custom_object("fip.io", "v1", "subnets")
    assert listed["kind"] == "SubnetList" and [i["metadata"]["name"] for i in listed["items"]] == ["dc1-a"]
    crs.delete_cluster_custom_object("fip.io", "v1", "subnets", "dc1-a")
    assert crs.list_cluster_custom_object("fip.io", "v1", "subnets")["items"] == []


def test_tapp_scale(api_client: client.ApiClient, ns: str) -> None:
    crs = client.CustomObjectsApi(api_client)
    tapp = {
        "apiVersion": "apps.tkestack.io/v1",
        "kind": "TApp",
        "metadata": {"name": "t"},
        "spec": {"replicas": 3},
    }
    crs.create_namespaced_custom_object("apps.tkestack.io", "v1", ns, "tapps", tapp)
    crs.patch_namespaced_custom_object_scale(
        "apps.tkestack.io", "v1", ns, "tapps", "t", {"spec": {"replicas": 5}}
    )
    assert (
        crs.get_namespaced_custom_object("apps.tkestack.io", "v1", ns, "tapps", "t")["spec"]["replicas"] == 5
    )


def test_services_get_cluster_ips(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(ns, {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})
    assert svc.spec.cluster_ip.startswith("10.")
    assert svc.spec.ports[0].target_port == 80 and svc.spec.ports[0].protocol == "TCP"


def test_discovery(api_client: client.ApiClient) -> None:
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"apps", "discovery.k8s.io", "coordination.k8s.io", "fip.io", "apps.tkestack.io"} <= groups
    core_res = {r.name for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert {"pods", "pods/binding", "pods/status", "nodes", "namespaces", "events"} <= core_res
    assert client.VersionApi(api_client).get_code().major == "1"


def test_namespace_deletion_removes_content(api: APIServer, core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "c"}})
    core.delete_namespace("doomed")
    wait_for(lambda: api.storage.try_get("namespaces", "doomed") is None, 5.0, "namespace gone")
    assert api.storage.list("configmaps", "doomed") == []


def test_events_accepted_and_listable(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
            "reason": "Scheduled",
            "message": "ok",
            "type": "Normal",
        },
    )
    assert [
        e.reason for e in core.list_namespaced_event(ns, field_selector="involvedObject.name=p").items
    ] == ["Scheduled"]


def test_injected_faults(api: APIServer, core: client.CoreV1Api, ns: str) -> None:
    api.control.inject("list", "configmaps", status=503, times=1)
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns)
    assert err.value.status == 503
    assert core.list_namespaced_config_map(ns).items == []
    api.control.inject("create", "pods/binding", status=500)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding(
            "x", ns, {"metadata": {"name": "x"}, "target": {"name": "n"}}, _preload_content=False
        )
    assert err.value.status == 500
    api.control.clear()


def test_events_v1_is_a_view_of_core_events(
    api_client: client.ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    ev1 = client.EventsV1Api(api_client)
    made = ev1.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "e1"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "fip.io/extender",
            "reportingInstance": "x",
            "action": "Bind",
            "reason": "FipAssigned",
            "type": "Normal",
            "note": "assigned 10.0.1.17",
            "regarding": {"kind": "Pod", "namespace": ns, "name": "p1"},
        },
    )
    assert made.note == "assigned 10.0.1.17" and made.regarding.name == "p1"
    legacy = core.read_namespaced_event("e1", ns)
    assert legacy.message == "assigned 10.0.1.17" and legacy.involved_object.name == "p1"
    assert legacy.reporting_component == "fip.io/extender"
    # An event without eventTime lists as eventTime null, which the 36.x EventsV1 model refuses, as with
    # a real server (kubernetes-client/python#1616), so this one sets it.
    stamp = "2026-01-01T00:00:00.000000Z"
    core.create_namespaced_event(
        ns, {"metadata": {"name": "e2"}, "involvedObject": {"name": "p2"}, "message": "m", "eventTime": stamp}
    )
    assert [(e.metadata.name, e.note) for e in ev1.list_namespaced_event(ns).items] == [
        ("e1", "assigned 10.0.1.17"),
        ("e2", "m"),
    ]
    assert ev1.patch_namespaced_event("e2", ns, {"note": "changed"}).note == "changed"
    assert core.read_namespaced_event("e2", ns).message == "changed"


def test_crd_created_through_the_api_is_served(api_client: client.ApiClient, ns: str) -> None:
    ext = client.ApiextensionsV1Api(api_client)
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    crd = {
        "metadata": {"name": "widgets.example.io"},
        "spec": {
            "group": "example.io",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget", "singular": "widget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }
    made = ext.create_custom_resource_definition(crd)
    assert {c.type for c in made.status.conditions} == {"NamesAccepted", "Established"}
    crs = client.CustomObjectsApi(api_client)
    w = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1}}
    crs.create_namespaced_custom_object("example.io", "v1", ns, "widgets", w)
    assert crs.list_namespaced_custom_object("example.io", "v1", ns, "widgets")["items"][0]["spec"] == {
        "a": 1
    }
    ext.delete_custom_resource_definition("widgets.example.io")
    with pytest.raises(ApiException) as err:
        crs.list_namespaced_custom_object("example.io", "v1", ns, "widgets")
    assert err.value.status == 404
    bad = {**crd, "metadata": {"name": "wrong.example.io"}}
    with pytest.raises(ApiException) as err:
        ext.create_custom_resource_definition(bad)
    assert err.value.status == 422


def test_lease_put_creates(api_client: client.ApiClient, ns: str) -> None:
    coord = client.CoordinationV1Api(api_client)
    body = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}
    made = coord.replace_namespaced_lease("l", ns, body)  # AllowCreateOnUpdate for leases
    assert made.spec.holder_identity == "a"
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api_client).replace_namespaced_config_map("nope", ns, {"metadata": {"name": "nope"}})
    assert err.value.status == 404


def test_list_at_exact_resource_version(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})
    then = core.list_namespaced_config_map(ns, resource_version=rv, resource_version_match="Exact")
    assert [c.metadata.name for c in then.items] == ["a"] and then.metadata.resource_version == rv


def test_defaults_pull_policy_secrets_and_node_status(core: client.CoreV1Api, ns: str) -> None:
    images = [("a", "busybox"), ("b", "busybox:1.36"), ("c", "r.io/x:latest")]
    containers = [{"name": n, "image": i} for n, i in images]
    made = core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": {"containers": containers}})
    assert [c.image_pull_policy for c in made.spec.containers] == ["Always", "IfNotPresent", "Always"]
    secret = core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert secret.data == {"k": "dg=="} and secret.type == "Opaque" and secret.string_data is None
    node = core.create_node({"metadata": {"name": f"node-{ns}"}, "status": {"capacity": {"fip.io/ip": "10"}}})
    assert node.status.capacity == {"fip.io/ip": "10"}  # the kubelet registers nodes with status
    node.status.capacity = {"fip.io/ip": "99"}
    assert core.replace_node(node.metadata.name, node).status.capacity == {"fip.io/ip": "10"}
    assert core.patch_node_status(
        node.metadata.name, {"status": {"capacity": {"fip.io/ip": "99"}}}
    ).status.capacity == {"fip.io/ip": "99"}


def test_http_control_endpoints(
    api: APIServer, api_client: client.ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    pool = api_client.rest_client.pool_manager
    body = json.dumps({"verb": "get", "resource": "configmaps", "status": 429, "times": 1}).encode()
    assert pool.request("POST", api.url + "/_lab/inject", body=body).status == 200
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("x", ns)
    assert err.value.status == 429
    for op in ("compact", "drop-watches", "pause", "resume", "clear"):
        assert pool.request("POST", f"{api.url}/_lab/{op}").status == 200
    assert pool.request("POST", api.url + "/_lab/bogus").status == 404


def test_endpointslices_keep_their_fields(api_client: client.ApiClient, ns: str) -> None:
    disc = client.DiscoveryV1Api(api_client)
    body = {
        "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.1.17"], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }
    disc.create_namespaced_endpoint_slice(ns, body)
    (got,) = disc.list_namespaced_endpoint_slice(ns, label_selector="kubernetes.io/service-name=web").items
    assert (
        got.address_type == "IPv4"
        and got.endpoints[0].addresses == ["10.0.1.17"]
        and got.ports[0].port == 8080
    )


def test_server_side_apply_ownership(api_client: client.ApiClient, core: client.CoreV1Api, ns: str) -> None:
    def apply(manager: str, data: dict[str, str], force: bool = False) -> Any:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": data}
        return core.patch_namespaced_config_map(
            "ssa", ns, body, field_manager=manager, force=force, _content_type="application/apply-patch+yaml"
        )

    made = apply("tool-a", {"a": "1", "z": "9"})
    assert made.data == {"a": "1", "z": "9"} and [m.manager for m in made.metadata.managed_fields] == [
        "tool-a"
    ]
    assert apply("tool-a", {"a": "1"}).data == {"a": "1"}  # z dropped: no one applies it any more
    with pytest.raises(ApiException) as err:
        apply("tool-b", {"a": "2"})
    assert err.value.status == 409 and 'conflict with "tool-a"' in status_of(err.value)["message"]  # type: ignore[operator]
    assert apply("tool-b", {"a": "2"}, force=True).data == {"a": "2"}
    # a plain PATCH by someone else takes over the fields it changes
    core.patch_namespaced_config_map("ssa", ns, {"data": {"b": "3"}}, field_manager="editor")
    owners = {
        m.manager: m.operation for m in core.read_namespaced_config_map("ssa", ns).metadata.managed_fields
    }
    assert owners == {"tool-b": "Apply", "editor": "Update"}


def test_admission_node_taint_and_pod_defaults(core: client.CoreV1Api, ns: str) -> None:
    node = core.create_node({"metadata": {"name": f"fresh-{ns}"}})
    assert [(t.key, t.effect) for t in node.spec.taints] == [("node.kubernetes.io/not-ready", "NoSchedule")]
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert (
        core.patch_node_status(node.metadata.name, ready).spec.taints is None
    )  # the lifecycle controller's part
    made = core.create_namespaced_pod(ns, pod("adm"))
    assert made.spec.service_account_name == "default" and made.spec.priority == 0
    assert {t.key for t in made.spec.tolerations} == {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    }
    out = core.patch_namespaced_pod_status("adm", ns, {"status": {"podIP": "10.0.1.17"}})
    assert [i.ip for i in out.status.pod_ips] == ["10.0.1.17"]
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_pod_status("adm", ns, {"status": {"podIP": "not-an-ip"}})
    assert err.value.status == 422


def test_service_rules(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(ns, {"metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}})
    bad = [
        {"metadata": {"name": "b"}, "spec": {"ports": [{"port": 80}, {"port": 81}]}},  # several unnamed ports
        {"metadata": {"name": "c"}, "spec": {"clusterIP": svc.spec.cluster_ip, "ports": [{"port": 80}]}},
        {"metadata": {"name": "d"}, "spec": {"type": "Weird", "ports": [{"port": 80}]}},
        {"metadata": {"name": "1abc"}, "spec": {"ports": [{"port": 80}]}},  # DNS-1035
    ]
    for body in bad:
        with pytest.raises(ApiException) as err:
            core.create_namespaced_service(ns, body)
        assert err.value.status == 422, body
    svc.spec.cluster_ip, svc.spec.cluster_i_ps = None, None  # PUT without the IP keeps it
    assert core.replace_namespaced_service("a", ns, svc).spec.cluster_ip
