# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of core/v1 CRUD against a standalone `fip-lab apiserver`, written as a
Kubernetes developer would against a real cluster: namespaces (lifecycle, immortal ones), Status
errors, defaults and admission, replace/conflicts, nodes, services, events, dry-run, deletion,
service accounts and access reviews. Patch, list and validation checks have their own modules.

Each expectation is the real kube-apiserver's behaviour (apimachinery `errors.go`, apiserver
`handlers/`, `pkg/registry/core/*/strategy.go`); gaps in the lab server are `xfail(strict=True)`.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from heldout_server import api_client, core, eventually, kubeconfig, ns, pod_body, status_body  # noqa: F401
from kubernetes import client, utils
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


def test_namespace_lifecycle(core: client.CoreV1Api) -> None:
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="h-life")))
    assert created.status.phase == "Active"
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert "h-life" in [n.metadata.name for n in core.list_namespace().items]
    core.create_namespaced_config_map("h-life", {"metadata": {"name": "c"}})
    core.delete_namespace("h-life")

    def gone() -> bool:
        try:
            core.read_namespace("h-life")
        except ApiException as e:
            return e.status == 404
        return False

    eventually(gone, what="namespace h-life deleted")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("c", "h-life")
    assert err.value.status == 404


def test_terminating_namespace_refuses_new_content(core: client.CoreV1Api) -> None:
    name = f"h-term-{time.monotonic_ns() % 100000}"
    ns_obj = core.create_namespace({"metadata": {"name": name}})
    assert ns_obj.spec.finalizers == ["kubernetes"]
    core.create_namespaced_config_map(name, {"metadata": {"name": "held", "finalizers": ["fip.io/hold"]}})
    core.delete_namespace(name)
    terminating = core.read_namespace(name)  # held by the configmap's finalizer
    assert terminating.status.phase == "Terminating"
    assert terminating.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(name, {"metadata": {"name": "late"}})
    assert err.value.status == 403
    body = status_body(err.value)
    assert body["reason"] == "Forbidden"
    assert "because it is being terminated" in body["message"]
    core.patch_namespaced_config_map(
        "held", name, {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as e:
            return e.status == 404
        return False

    eventually(gone, what="namespace gone once its content is gone")


def test_builtin_namespaces_exist(core: client.CoreV1Api) -> None:
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


def test_default_kubernetes_service(core: client.CoreV1Api) -> None:
    svc = core.read_namespaced_service("kubernetes", "default")
    assert svc.spec.ports[0].port == 443 and svc.spec.ports[0].name == "https"
    assert svc.spec.cluster_ip


def test_immortal_namespaces(core: client.CoreV1Api) -> None:
    for name in ("kube-public", "default"):
        with pytest.raises(ApiException) as err:
            core.delete_namespace(name)
        assert err.value.status == 403, name
        assert core.read_namespace(name).metadata.deletion_timestamp is None


def test_create_in_missing_namespace_is_404(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "c"}})
    assert err.value.status == 404
    body = status_body(err.value)
    assert body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "no-such-ns" not found'


def test_get_missing_is_404_status(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("nope", ns)
    exc = err.value
    assert exc.status == 404
    assert exc.reason == "Not Found"
    assert "application/json" in exc.headers["Content-Type"]
    body = status_body(exc)
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }


def test_core_group_is_omitted_from_status_details(core: client.CoreV1Api, ns: str) -> None:
    # StatusDetails.Group is `json:"group,omitempty"`: the real server omits it for the core group
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("nope", ns)
    assert "group" not in status_body(err.value)["details"]


def test_create_twice_is_409_already_exists(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "dup"}})
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "dup"}})
    body = status_body(err.value)
    assert err.value.status == 409
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "dup" already exists'
    assert body["details"] == {"name": "dup", "kind": "configmaps"}


def test_pod_defaults(core: client.CoreV1Api, ns: str) -> None:
    p = core.create_namespaced_pod(ns, pod_body("d"))
    assert p.metadata.namespace == ns
    assert p.spec.restart_policy == "Always"
    assert p.spec.dns_policy == "ClusterFirst"
    assert p.spec.scheduler_name == "default-scheduler"
    assert p.spec.termination_grace_period_seconds == 30
    assert p.spec.containers[0].image_pull_policy == "Always"  # no tag => :latest => Always
    assert p.spec.containers[0].termination_message_path == "/dev/termination-log"
    assert p.status.phase == "Pending"
    assert p.status.qos_class == "BestEffort"


def test_pod_admission_defaults(core: client.CoreV1Api, ns: str) -> None:
    eventually(lambda: core.list_namespaced_service_account(ns).items, what="default ServiceAccount")
    p = core.create_namespaced_pod(ns, pod_body("adm"))
    assert p.spec.service_account_name == "default"
    assert any(v.name.startswith("kube-api-access-") for v in p.spec.volumes or [])
    assert p.spec.priority == 0 and p.spec.preemption_policy == "PreemptLowerPriority"
    tolerations = {(t.key, t.effect, t.toleration_seconds) for t in p.spec.tolerations or []}
    assert ("node.kubernetes.io/not-ready", "NoExecute", 300) in tolerations
    assert ("node.kubernetes.io/unreachable", "NoExecute", 300) in tolerations


def test_new_node_is_tainted_not_ready(core: client.CoreV1Api) -> None:
    # TaintNodesByCondition admission taints a new node; the node lifecycle controller lifts it once Ready
    node = core.create_node({"metadata": {"name": "h-taint"}})
    assert [(t.key, t.effect) for t in node.spec.taints or []] == [
        ("node.kubernetes.io/not-ready", "NoSchedule")
    ]
    core.patch_node_status("h-taint", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    eventually(lambda: not core.read_node("h-taint").spec.taints, what="not-ready taint lifted")
    core.delete_node("h-taint")


def test_generate_name(core: client.CoreV1Api, ns: str) -> None:
    names = set()
    for _ in range(5):
        cm = core.create_namespaced_config_map(ns, {"metadata": {"generateName": "gen-"}})
        assert cm.metadata.generate_name == "gen-"
        assert cm.metadata.name.startswith("gen-") and len(cm.metadata.name) == len("gen-") + 5
        assert set(cm.metadata.name[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")
        names.add(cm.metadata.name)
    assert len(names) == 5


def test_configmap_replace_and_stale_resource_version(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"k": "1"}})
    first_rv = cm.metadata.resource_version
    cm.data = {"k": "2"}
    updated = core.replace_namespaced_config_map("cm", ns, cm)
    assert updated.metadata.resource_version != first_rv
    assert updated.metadata.uid == cm.metadata.uid
    cm.data = {"k": "3"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cm", ns, cm)
    body = status_body(err.value)
    assert err.value.status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "cm": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert core.read_namespaced_config_map("cm", ns).data == {"k": "2"}


def test_replace_without_resource_version_is_unconditional(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "u"}, "data": {"k": "1"}})
    out = core.replace_namespaced_config_map("u", ns, {"metadata": {"name": "u"}, "data": {"k": "9"}})
    assert out.data == {"k": "9"}


def test_replace_with_other_uid_is_409(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "uid"}})
    cm.metadata.uid = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("uid", ns, cm)
    assert err.value.status == 409
    assert "Precondition failed: UID in precondition" in status_body(err.value)["message"]


def test_system_fields_are_not_writable(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "sys"}})
    body = core.api_client.sanitize_for_serialization(cm)
    body["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z"
    out = core.replace_namespaced_config_map("sys", ns, body)
    assert out.metadata.creation_timestamp == cm.metadata.creation_timestamp
    assert out.metadata.uid == cm.metadata.uid


def test_replace_name_mismatch_is_400(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "m"}})
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("m", ns, {"metadata": {"name": "other"}})
    assert err.value.status == 400
    assert status_body(err.value)["reason"] == "BadRequest"


def test_replace_missing_is_404(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("ghost", ns, {"metadata": {"name": "ghost"}})
    assert err.value.status == 404


def test_nodes_cluster_scoped(core: client.CoreV1Api) -> None:
    node = core.create_node(
        {
            "metadata": {"name": "h-node-1", "labels": {"fip.io/l2": "dc1-a"}},
            "spec": {"podCIDR": "10.244.1.0/24"},
        }
    )
    assert node.metadata.namespace is None
    got = core.read_node("h-node-1")
    assert got.spec.pod_cidr == "10.244.1.0/24"
    out = core.patch_node("h-node-1", {"metadata": {"labels": {"zone": "z1"}}})
    assert out.metadata.labels == {"fip.io/l2": "dc1-a", "zone": "z1"}
    assert [n.metadata.name for n in core.list_node(label_selector="zone=z1").items] == ["h-node-1"]
    assert [n.metadata.name for n in core.list_node(label_selector="fip.io/l2 in (dc1-a)").items] == [
        "h-node-1"
    ]
    st = core.patch_node_status("h-node-1", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert st.status.conditions[0].type == "Ready"
    core.delete_node("h-node-1")
    with pytest.raises(ApiException) as err:
        core.read_node("h-node-1")
    assert err.value.status == 404


def test_service_gets_cluster_ip_and_port_defaults(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(
        ns, {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    )
    assert svc.spec.type == "ClusterIP"
    assert svc.spec.cluster_ip and svc.spec.cluster_ip != "None"
    assert svc.spec.ports[0].protocol == "TCP"
    assert svc.spec.ports[0].target_port == 80
    assert svc.spec.session_affinity == "None"
    assert svc.spec.cluster_ips == [svc.spec.cluster_ip]
    assert svc.spec.ip_families == ["IPv4"] and svc.spec.ip_family_policy == "SingleStack"
    assert svc.spec.internal_traffic_policy == "Cluster"


def test_nodeport_service(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(
        ns, {"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    )
    assert 30000 <= svc.spec.ports[0].node_port <= 32767
    other = core.create_namespaced_service(
        ns, {"metadata": {"name": "np2"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    )
    assert other.spec.ports[0].node_port != svc.spec.ports[0].node_port
    assert other.spec.cluster_ip != svc.spec.cluster_ip


def test_nodeport_service_external_traffic_policy(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(
        ns, {"metadata": {"name": "etp"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    )
    assert svc.spec.external_traffic_policy == "Cluster"


def test_headless_service(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(
        ns,
        {
            "metadata": {"name": "hl"},
            "spec": {"clusterIP": "None", "selector": {"a": "b"}, "ports": [{"port": 1}]},
        },
    )
    assert svc.spec.cluster_ip == "None"
    core.delete_namespaced_service("hl", ns)
    assert core.list_namespaced_service(ns).items == []


def test_create_from_dict_manifest_list(
    api_client: client.ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-list"}, "data": {"a": "1"}},
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "from-list"},
                "spec": {
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod_body("x")["spec"]},
                },
            },
        ],
    }
    created = utils.create_from_dict(api_client, manifest, namespace=ns)
    assert [type(o).__name__ for o in created] == ["V1ConfigMap", "V1Deployment"]
    assert core.read_namespaced_config_map("from-list", ns).data == {"a": "1"}
    with pytest.raises(utils.FailToCreateError) as err:  # again: AlreadyExists surfaces per object
        utils.create_from_dict(api_client, manifest, namespace=ns)
    assert [e.status for e in err.value.api_exceptions] == [409, 409]


def test_optimistic_concurrency_under_contention(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "counter"}, "data": {"n": "0"}})
    conflicts = []

    def bump(times: int) -> None:
        for _ in range(times):
            while True:
                cm = core.read_namespaced_config_map("counter", ns)
                cm.data = {"n": str(int(cm.data["n"]) + 1)}
                try:
                    core.replace_namespaced_config_map("counter", ns, cm)
                    break
                except ApiException as e:
                    assert e.status == 409
                    conflicts.append(1)

    threads = [threading.Thread(target=bump, args=(8,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert core.read_namespaced_config_map("counter", ns).data == {"n": "32"}


def test_request_latency(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "lat"}})
    samples = []
    for _ in range(15):
        start = time.perf_counter()
        core.read_namespaced_config_map("lat", ns)
        samples.append(time.perf_counter() - start)
    samples.sort()
    assert samples[len(samples) // 2] < 0.020, f"median GET {samples[len(samples) // 2] * 1000:.1f} ms"


def test_core_events(core: client.CoreV1Api, ns: str) -> None:
    ev = core.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "p1.17a8b0c0d0e0f000"},  # client-go names events <obj>.<unixnano hex>
            "involvedObject": {"kind": "Pod", "namespace": ns, "name": "p1", "apiVersion": "v1"},
            "reason": "FipAssigned",
            "message": "assigned 10.0.1.17",
            "type": "Normal",
            "source": {"component": "fip-extender"},
            "count": 1,
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:00:00Z",
        },
    )
    assert ev.metadata.name == "p1.17a8b0c0d0e0f000"
    got = core.list_namespaced_event(ns, field_selector="involvedObject.name=p1,reason=FipAssigned")
    assert [e.message for e in got.items] == ["assigned 10.0.1.17"]
    assert core.list_namespaced_event(ns, field_selector="involvedObject.name=p2").items == []
    core.patch_namespaced_event(ev.metadata.name, ns, {"count": 2})
    assert core.read_namespaced_event(ev.metadata.name, ns).count == 2


def test_events_v1(api_client: client.ApiClient, ns: str) -> None:
    events = client.EventsV1Api(api_client)
    ev = events.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "e1"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "fip.io/extender",
            "reportingInstance": "extender-0",
            "action": "Bind",
            "reason": "FipAssigned",
            "type": "Normal",
            "note": "assigned",
            "regarding": {"kind": "Pod", "namespace": ns, "name": "p1", "apiVersion": "v1"},
        },
    )
    assert ev.reason == "FipAssigned"
    legacy = client.CoreV1Api(api_client).read_namespaced_event("e1", ns)
    assert legacy.involved_object.name == "p1"  # same object served by both groups


def test_dry_run_create_is_not_persisted(core: client.CoreV1Api, ns: str) -> None:
    out = core.create_namespaced_config_map(ns, {"metadata": {"name": "dry"}}, dry_run="All")
    assert out.metadata.name == "dry"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("dry", ns)
    assert err.value.status == 404


def test_dry_run_update_and_delete_change_nothing(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "dr"}, "data": {"k": "1"}})
    cm.data = {"k": "2"}
    assert core.replace_namespaced_config_map("dr", ns, cm, dry_run="All").data == {"k": "2"}
    core.delete_namespaced_config_map("dr", ns, dry_run="All")
    stored = core.read_namespaced_config_map("dr", ns)
    assert stored.data == {"k": "1"}
    assert stored.metadata.resource_version == cm.metadata.resource_version


def test_utf8_and_binary_data_round_trip(core: client.CoreV1Api, ns: str) -> None:
    data = {"k": "h\u00e9llo \u2713 \u65e5\u672c"}
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "u8"}, "data": data, "binaryData": {"b": "AAEC"}}
    )
    got = core.read_namespaced_config_map("u8", ns)
    assert got.data == data and got.binary_data == {"b": "AAEC"}


def test_delete_returns_status_or_object_and_404_after(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "del"}})
    raw = core.delete_namespaced_config_map("del", ns, _preload_content=False)
    assert raw.status == 200
    body = json.loads(raw.data)
    # configmaps have no graceful deletion: the real server answers a Success Status
    assert body["kind"] == "Status" and body["status"] == "Success"
    assert body["details"]["name"] == "del" and body["details"]["kind"] == "configmaps"
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("del", ns)
    assert err.value.status == 404


def test_delete_with_uid_precondition(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "pre"}})
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map(
            "pre", ns, body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="wrong-uid"))
        )
    assert err.value.status == 409
    assert "Precondition failed: UID in precondition: wrong-uid" in status_body(err.value)["message"]


def test_deletecollection(core: client.CoreV1Api, ns: str) -> None:
    for i in range(3):
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": f"dc{i}", "labels": {"g": "x" if i else "y"}}}
        )
    core.delete_collection_namespaced_config_map(ns, label_selector="g=x")
    assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["dc0"]


def test_secrets_roundtrip_string_data(core: client.CoreV1Api, ns: str) -> None:
    s = core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert s.data == {"k": "dg=="}  # stringData merged into base64 data
    assert s.type == "Opaque"


def test_default_service_account_appears(core: client.CoreV1Api, ns: str) -> None:
    def found() -> bool:
        try:
            return bool(core.read_namespaced_service_account("default", ns))
        except ApiException:
            return False

    eventually(found, timeout=2, what="default ServiceAccount")


def test_service_account_token_request(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_service_account(ns, {"metadata": {"name": "fip"}})
    tr = core.create_namespaced_service_account_token(
        "fip", ns, {"spec": {"audiences": ["fip"], "expirationSeconds": 600}}
    )
    assert tr.status.token and tr.status.expiration_timestamp


def test_self_subject_access_review(api_client: client.ApiClient, ns: str) -> None:
    review = client.AuthorizationV1Api(api_client).create_self_subject_access_review(
        {
            "spec": {
                "resourceAttributes": {
                    "namespace": ns,
                    "verb": "create",
                    "resource": "pods",
                    "subresource": "binding",
                }
            }
        }
    )
    assert review.status.allowed is True
