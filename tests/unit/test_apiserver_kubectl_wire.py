"""The pure parts of the lab API server's kubectl support: media negotiation, the printer-column
JSONPath subset, ages, printed cells, field validation of built-ins and the OpenAPI documents."""

# ruff: noqa: E501  (wire values and messages, verbatim)

from __future__ import annotations

import contextlib
import string

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.apiserver import fields, jsonpath, media, printers, tables
from lab.apiserver.openapi import Documents, schemas, serve
from lab.apiserver.resources import BUILTIN, TAPP_CRD, Registry, from_crd
from lab.apiserver.status import APIError

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def test_negotiation_order_and_fallback() -> None:
    assert media.negotiate(None) == media.Wanted()
    assert media.negotiate(
        f"{TABLE},application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    ).table
    assert media.negotiate("application/vnd.kubernetes.protobuf,application/json") == media.Wanted()
    assert media.negotiate("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io").partial
    with pytest.raises(APIError) as err:
        media.negotiate("application/vnd.kubernetes.protobuf")
    assert err.value.code == 406
    with pytest.raises(APIError) as err:
        media.negotiate(TABLE, table_ok=False)
    assert err.value.code == 406


def test_body_formats() -> None:
    assert media.body_format(None) == "json"
    assert media.body_format("application/json; charset=utf-8") == "json"
    assert media.body_format("application/yaml") == "yaml"
    for bad in ("application/vnd.kubernetes.protobuf", "application/cbor", "text/plain"):
        with pytest.raises(APIError) as err:
            media.body_format(bad)
        assert err.value.code == 415 and err.value.message == media.UNKNOWN_BODY


@given(st.text(alphabet=string.printable, max_size=80))
def test_accept_parser_never_crashes(accept: str) -> None:
    try:
        media.negotiate(accept)
    except APIError as e:
        assert e.code == 406


@given(st.text(alphabet=string.ascii_letters + "[]().@?=!'\"*-_0123456789 {}$", max_size=60))
def test_jsonpath_parser_only_raises_path_error(path: str) -> None:
    with contextlib.suppress(jsonpath.PathError):
        jsonpath.find(path, {"spec": {"a": [1, {"type": "Ready", "status": "True"}]}})


def test_jsonpath_subset() -> None:
    obj = {"spec": {"cidr": "10.0.0.0/24", "ranges": ["a", "b"], "ok": True},
           "metadata": {"labels": {"fip.io/l2": "dc1"}},
           "status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}}  # fmt: skip
    assert jsonpath.find(".spec.cidr", obj) == ["10.0.0.0/24"]
    assert jsonpath.find("{.spec.ranges[-1]}", obj) == ["b"]
    assert jsonpath.find(".spec.ranges[*]", obj) == ["a", "b"]
    assert jsonpath.find(".metadata.labels['fip\\.io/l2']", obj) == ["dc1"]
    assert jsonpath.find('.status.conditions[?(@.type=="Ready")].status', obj) == ["True"]
    assert jsonpath.find(".spec.missing.deeper", obj) == []
    assert [jsonpath.text(v) for v in (True, 3, "x", ["a"], {"k": 1})] == [
        "true",
        "3",
        "x",
        '["a"]',
        '{"k":1}',
    ]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (3 * 3600 + 600, "3h10m"),
     (8 * 3600, "8h"), (50 * 3600, "2d2h"), (10 * 86400, "10d"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y")],
)  # fmt: skip
def test_human_duration(seconds: int, shown: str) -> None:
    assert printers.human_duration(seconds) == shown


def test_crd_cells_by_column_type() -> None:
    rt = from_crd(
        {
            **TAPP_CRD,
            "spec": {
                **TAPP_CRD["spec"],
                "versions": [
                    {
                        **TAPP_CRD["spec"]["versions"][0],
                        "additionalPrinterColumns": [
                            {"name": "N", "type": "integer", "jsonPath": ".spec.replicas"},
                            {"name": "B", "type": "boolean", "jsonPath": ".spec.paused"},
                            {"name": "S", "type": "string", "jsonPath": ".spec.tags"},
                            {"name": "When", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                            {"name": "Gone", "type": "string", "jsonPath": ".spec.nothing"},
                        ],
                    }
                ],
            },
        }
    )[0]
    obj = {"metadata": {"name": "t", "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"replicas": 2, "paused": False, "tags": ["a"]}}  # fmt: skip
    now = printers.parse_time("2026-01-01T00:05:00Z") or 0.0
    assert tables.cells(rt, obj, now) == ["t", 2, False, '["a"]', "5m", None]
    assert [c["name"] for c in tables.columns(rt)] == ["Name", "N", "B", "S", "When", "Gone"]


def test_builtin_field_validation_paths_and_types() -> None:
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "bogus": 1},
            "spec": {"replicas": 1, "extra": True, "template": {"spec": {"containers": [{"name": "c", "image": "i", "x": 1}]}}}}  # fmt: skip
    found = fields.check("apps", "v1", "Deployment", body, drop=True)
    assert found is not None and found.type_error is None
    assert found.unknown == ["metadata.bogus", "spec.extra", "spec.template.spec.containers[0].x"]
    assert "extra" not in body["spec"] and "x" not in body["spec"]["template"]["spec"]["containers"][0]
    wrong = {"spec": {"replicas": "two", "strategy": {"rollingUpdate": {"maxSurge": "25%"}}}}
    found = fields.check("apps", "v1", "Deployment", wrong, drop=False)
    assert found is not None
    assert (
        found.type_error
        == "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    )
    quantities = {
        "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": 1, "fip.io/ip": "1"}}}]}
    }
    found = fields.check("", "v1", "Pod", quantities, drop=False)
    assert found is not None and found.type_error is None and not found.unknown


def test_openapi_documents_carry_gvk_patch_metadata_and_fieldvalidation() -> None:
    docs = Documents(Registry([*BUILTIN, *from_crd(TAPP_CRD)]))
    root = docs.root()["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/apps.tkestack.io/v1"} <= set(root)
    raw, digest = docs.v3("apis/apps/v1") or (b"", "")
    assert root["apis/apps/v1"]["serverRelativeURL"].endswith(digest)
    doc = orjson.loads(raw)
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    spec = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert spec["containers"]["x-kubernetes-patch-merge-key"] == "name"
    assert spec["containers"]["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert spec["nodeSelector"]["additionalProperties"] == {"type": "string"}
    deployment = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert {"group": "apps", "version": "v1", "kind": "Deployment"} in deployment[
        "x-kubernetes-group-version-kind"
    ]
    cr = orjson.loads((docs.v3("apis/apps.tkestack.io/v1") or (b"{}", ""))[0])
    cr_patch = cr["paths"]["/apis/apps.tkestack.io/v1/namespaces/{namespace}/tapps/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in cr_patch["requestBody"]["content"]
    assert cr["components"]["schemas"]["io.tkestack.apps.v1.TApp"]["x-kubernetes-group-version-kind"]


def test_stale_hash_redirects_current_hash_is_immutable() -> None:
    docs = Documents(Registry(list(BUILTIN)))
    _, digest = docs.v3("api/v1") or (b"", "")
    stale = serve.answer(docs, ["openapi", "v3", "api", "v1"], {"hash": "0" * 128}, None)
    assert stale.code == 301 and stale.headers["Location"] == f"/openapi/v3/api/v1?hash={digest}"
    fresh = serve.answer(docs, ["openapi", "v3", "api", "v1"], {"hash": digest}, None)
    assert fresh.code == 200 and fresh.headers["Cache-Control"] == "public, immutable"


def test_empty_protobuf_v2_document() -> None:
    pb = serve.empty_v2_protobuf()
    assert pb[:5] == b"\x0a\x032.0" and pb.endswith(b"\x42\x00")  # swagger "2.0" ... paths {}
    reply = serve.answer(Documents(Registry(list(BUILTIN))), ["openapi", "v2"], {}, serve.PROTOBUF_V2)
    assert reply.body == pb


def test_definitions_cover_every_served_builtin_kind() -> None:
    for rt in BUILTIN:
        assert schemas.kind_name(rt.group, rt.version, rt.kind), rt.key


def _pod(name: str, ready: bool, owner: str | None = None) -> dict[str, object]:
    meta: dict[str, object] = {"name": name, "uid": name}
    if owner:
        meta["ownerReferences"] = [
            {"uid": owner, "controller": True, "kind": "ReplicaSet", "apiVersion": "apps/v1"}
        ]
    cond = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": meta, "status": {"phase": "Running", "conditions": cond}}


def test_disruption_budget_status_as_the_controller_computes_it() -> None:
    from lab.apiserver import disruption

    pods = [_pod("a", True, "rs"), _pod("b", True, "rs"), _pod("c", False, "rs")]
    by_min = {"metadata": {"generation": 2}, "spec": {"minAvailable": 1}}
    got = disruption.status_for(by_min, pods, lambda p: 3)
    assert (got["expectedPods"], got["currentHealthy"], got["desiredHealthy"], got["disruptionsAllowed"]) == (
        3,
        2,
        1,
        1,
    )
    assert got["observedGeneration"] == 2
    by_pct = {"metadata": {}, "spec": {"maxUnavailable": "50%"}}
    got = disruption.status_for(by_pct, pods, lambda p: 4)
    assert (got["expectedPods"], got["desiredHealthy"], got["disruptionsAllowed"]) == (4, 2, 0)
    bare = disruption.status_for(by_pct, [_pod("x", True)], lambda p: None)
    assert bare["disruptionsAllowed"] == 0  # unmanaged pods: the budget cannot allow anything
    assert disruption.may_ignore_budget({"metadata": {}, "status": {"phase": "Succeeded"}})
    assert not disruption.may_ignore_budget({"metadata": {}, "status": {"phase": "Running"}})


def test_metadata_only_watch_events() -> None:
    import threading
    import time
    import urllib.request

    from lab.apiserver import APIServer

    with APIServer() as api:

        def create() -> None:
            time.sleep(0.2)
            api.storage.create(
                "configmaps", {"metadata": {"name": "m", "namespace": "default"}, "data": {"k": "v"}}
            )

        threading.Thread(target=create).start()
        accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
        req = urllib.request.Request(
            api.url + "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1",
            headers={"Accept": accept},
        )
        with urllib.request.urlopen(req) as resp:
            first = orjson.loads(resp.read().splitlines()[0])
    assert first["type"] == "ADDED" and first["object"]["kind"] == "PartialObjectMetadata"
    assert first["object"]["metadata"]["name"] == "m" and "data" not in first["object"]
