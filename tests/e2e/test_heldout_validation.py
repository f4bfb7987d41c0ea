# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of request decoding and validation against a standalone `fip-lab apiserver`,
through the official client only: malformed/non-object/wrong-kind bodies (400), unknown fields
(Warning header, fieldValidation=Strict), name rules per kind and field rules (422 Invalid with
details.causes), immutable fields, size limits. Real-server source: apiserver `handlers/create.go`
(transformDecodeError), `pkg/apis/*/validation`, apimachinery `api/validation`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from heldout_server import api_client, core, kubeconfig, ns, pod_body, status_body  # noqa: F401
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


def test_immutable_configmap(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}
    )
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("frozen", ns, {"data": {"a": "2"}})
    assert err.value.status == 422
    out = core.patch_namespaced_config_map("frozen", ns, {"metadata": {"labels": {"ok": "yes"}}})
    assert out.metadata.labels == {"ok": "yes"} and out.data == {"a": "1"}


def test_invalid_label_value_is_422(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "lv", "labels": {"a": "not ok!"}}})
    assert err.value.status == 422
    assert status_body(err.value)["details"]["causes"][0]["field"] == "metadata.labels"


def _svc_change_cluster_ip(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_service(ns, {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})
    core.patch_namespaced_service(
        "s", ns, {"spec": {"clusterIP": "10.96.99.99", "clusterIPs": ["10.96.99.99"]}}
    )


def _svc_duplicate_cluster_ip(core: client.CoreV1Api, ns: str) -> None:
    first = core.create_namespaced_service(ns, {"metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}})
    ip = first.spec.cluster_ip
    core.create_namespaced_service(
        ns, {"metadata": {"name": "b"}, "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}
    )


def _svc_bad_type(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_service(
        ns, {"metadata": {"name": "t"}, "spec": {"type": "Weird", "ports": [{"port": 80}]}}
    )


def _svc_no_ports(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_service(ns, {"metadata": {"name": "np"}, "spec": {}})


def _secret_type_change(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_secret(ns, {"metadata": {"name": "sec"}, "type": "Opaque"})
    core.patch_namespaced_secret("sec", ns, {"type": "example.com/other"})


def _node_pod_cidr_change(core: client.CoreV1Api, ns: str) -> None:
    name = f"{ns}-node"[:63]
    core.create_node({"metadata": {"name": name}, "spec": {"podCIDR": "10.244.0.0/24"}})
    try:
        core.patch_node(name, {"spec": {"podCIDR": "10.244.9.0/24"}})
    finally:
        core.delete_node(name)


def _job_template_change(core: client.CoreV1Api, ns: str) -> None:
    batch = client.BatchV1Api(core.api_client)
    spec = {"restartPolicy": "Never", "containers": [{"name": "a", "image": "b"}]}
    batch.create_namespaced_job(ns, {"metadata": {"name": "j"}, "spec": {"template": {"spec": spec}}})
    batch.patch_namespaced_job(
        "j", ns, {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "c"}]}}}}
    )


def _pod_with(core: client.CoreV1Api, ns: str, name: str, **spec: Any) -> None:
    body = pod_body(name)
    body["spec"].update(spec)
    core.create_namespaced_pod(ns, body)


def _pod_port_out_of_range(core: client.CoreV1Api, ns: str) -> None:
    _pod_with(core, ns, "port", containers=[{"name": "a", "image": "b", "ports": [{"containerPort": 70000}]}])


def _pod_bad_restart_policy(core: client.CoreV1Api, ns: str) -> None:
    _pod_with(core, ns, "rp", restartPolicy="Sometimes")


def _pod_bad_node_selector_key(core: client.CoreV1Api, ns: str) -> None:
    _pod_with(core, ns, "nsel", nodeSelector={"bad key!": "x"})


def _bad_annotation_key(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "ak", "annotations": {"a b": "x"}}})


def _bad_configmap_data_key(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "dk"}, "data": {"a b": "x"}})


def _owner_reference_without_uid(core: client.CoreV1Api, ns: str) -> None:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "o", "ownerReferences": [ref]}}, _preload_content=False
    )


def _lease_negative_duration(core: client.CoreV1Api, ns: str) -> None:
    client.CoordinationV1Api(core.api_client).create_namespaced_lease(
        ns, {"metadata": {"name": "le"}, "spec": {"leaseDurationSeconds": -1}}
    )


def _svc_duplicate_ports(core: client.CoreV1Api, ns: str) -> None:
    ports = [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]
    core.create_namespaced_service(ns, {"metadata": {"name": "dp"}, "spec": {"ports": ports}})


def _svc_unnamed_ports(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_service(
        ns, {"metadata": {"name": "up"}, "spec": {"ports": [{"port": 80}, {"port": 81}]}}
    )


def _annotations_too_big(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "big", "annotations": {"k": "x" * 262145}}})


def _configmap_too_big(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "huge"}, "data": {"k": "x" * (1024 * 1024 + 1)}}
    )


@pytest.mark.parametrize(
    "action",
    [
        _annotations_too_big,
        _configmap_too_big,
        _pod_port_out_of_range,
        _pod_bad_restart_policy,
        _pod_bad_node_selector_key,
        _bad_annotation_key,
        _bad_configmap_data_key,
        _owner_reference_without_uid,
        _lease_negative_duration,
        _svc_duplicate_ports,
        _svc_unnamed_ports,
        _svc_change_cluster_ip,
        _svc_duplicate_cluster_ip,
        _svc_bad_type,
        _svc_no_ports,
        _secret_type_change,
        _node_pod_cidr_change,
        _job_template_change,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_validation_rules_on_write(core: client.CoreV1Api, ns: str, action: Any) -> None:
    """Each write breaks one rule of the real validation (422 Invalid): annotations <= 256 KiB,
    ConfigMap <= 1 MiB, containerPort 1..65535, restartPolicy enum, label-syntax nodeSelector and
    annotation keys, config-key syntax, ownerReference uid required, leaseDurationSeconds > 0, unique
    and (when several) named Service ports, clusterIP immutable/unique, Service type enum and ports
    required, Secret type immutable, Node podCIDR set-once, Job template immutable."""
    with pytest.raises(ApiException) as err:
        action(core, ns)
    assert err.value.status == 422
    assert status_body(err.value)["reason"] == "Invalid"


def test_invalid_name_is_422_with_causes(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "Bad_Name"}})
    assert err.value.status == 422
    body = status_body(err.value)
    assert body["reason"] == "Invalid"
    assert body["details"]["name"] == "Bad_Name"
    assert body["details"]["kind"] == "ConfigMap"
    cause = body["details"]["causes"][0]
    assert cause["field"] == "metadata.name"
    assert cause["reason"] == "FieldValueInvalid"
    assert body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"'
    )


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("configmap", "x" * 254),  # DNS-1123 subdomain: at most 253
        ("service", "1abc"),  # DNS-1035 label: must start with a letter
        ("service", "a.b"),  # DNS-1035 label: no dots
        ("namespace", "a.b"),  # DNS-1123 label: no dots
        ("namespace", "n" * 64),  # DNS-1123 label: at most 63
    ],
)
def test_name_rules_per_kind(core: client.CoreV1Api, ns: str, kind: str, name: str) -> None:
    create = {
        "configmap": lambda: core.create_namespaced_config_map(ns, {"metadata": {"name": name}}),
        "service": lambda: core.create_namespaced_service(
            ns, {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}
        ),
        "namespace": lambda: core.create_namespace({"metadata": {"name": name}}),
    }[kind]
    with pytest.raises(ApiException) as err:
        create()
    assert err.value.status == 422
    assert status_body(err.value)["details"]["causes"][0]["field"] == "metadata.name"


def test_missing_name_is_422(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, {"metadata": {}})
    assert err.value.status == 422
    cause = status_body(err.value)["details"]["causes"][0]
    assert cause["field"] == "metadata.name" and cause["reason"] == "FieldValueRequired"


def test_pod_without_containers_is_422(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(ns, {"metadata": {"name": "empty"}, "spec": {"containers": []}})
    assert err.value.status == 422
    fields = [c["field"] for c in status_body(err.value)["details"]["causes"]]
    assert "spec.containers" in fields


def test_namespace_mismatch_is_400(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "x", "namespace": "elsewhere"}})
    assert err.value.status == 400
    assert "does not match the namespace" in status_body(err.value)["message"]


def _raw_post(
    api_client: client.ApiClient, path: str, body: bytes, content_type: str = "application/json"
) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    api_client.update_params_for_auth(headers, [], ["BearerToken"])
    url = api_client.configuration.host + path
    r = api_client.rest_client.pool_manager.request("POST", url, body=body, headers=headers)
    return r.status, json.loads(r.data)


def test_yaml_request_body(api_client: client.ApiClient, ns: str) -> None:
    """A real YAML body (Content-Type application/yaml) is decoded by the server's YAML serializer."""
    manifest = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n"
    status, _ = _raw_post(api_client, f"/api/v1/namespaces/{ns}/configmaps", manifest, "application/yaml")
    assert status == 201
    assert client.CoreV1Api(api_client).read_namespaced_config_map("from-yaml", ns).data == {"k": "v"}


def test_yaml_text_through_the_typed_client_is_a_json_string(core: client.CoreV1Api, ns: str) -> None:
    """kubernetes 36.0.3 ignores `_content_type` here: it JSON-encodes the text and sends
    Content-Type application/json, so a real server sees a JSON string and answers 400."""
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-text\n"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, manifest, _content_type="application/yaml")
    assert err.value.status == 400
    assert status_body(err.value)["reason"] == "BadRequest"


def test_malformed_json_is_400(api_client: client.ApiClient, ns: str) -> None:
    status, body = _raw_post(api_client, f"/api/v1/namespaces/{ns}/configmaps", b'{"metadata": {"name": ')
    assert status == 400
    assert body["kind"] == "Status" and body["reason"] == "BadRequest"


def test_non_object_json_is_400(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, "just a string")
    assert err.value.status == 400


def test_wrong_kind_in_body_is_400(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(
            ns, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "w"}}
        )
    assert err.value.status == 400
    body = status_body(err.value)
    assert body["reason"] == "BadRequest"
    assert "cannot be handled as a ConfigMap" in body["message"]


def test_unknown_fields_dropped_by_default_and_rejected_when_strict(core: client.CoreV1Api, ns: str) -> None:
    raw = core.create_namespaced_config_map(
        ns, {"metadata": {"name": "uf"}, "data": {"a": "1"}, "bogus": 1}, _preload_content=False
    )
    assert raw.status == 201
    assert "bogus" not in json.loads(raw.data)
    assert raw.headers.get("Warning") == '299 - "unknown field \\"bogus\\""'
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": "uf2"}, "bogus": 1}, field_validation="Strict"
        )
    assert err.value.status == 400
    assert 'unknown field "bogus"' in status_body(err.value)["message"]
