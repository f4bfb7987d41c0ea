# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of pods/binding (what a scheduler extender POSTs) against a standalone
`fip-lab apiserver`, through the official client only: 201 Status reply, annotation merge,
PodScheduled condition, uid precondition, 409 on double/terminating/gated binds, one winner under
concurrency. Real-server source: `pkg/registry/core/pod/storage/storage.go` (BindingREST).
"""

from __future__ import annotations

import json
import threading

import pytest
from heldout_server import api_client, binding, core, gone, kubeconfig, ns, pod_body, status_body  # noqa: F401
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


def test_bind_pod(core: client.CoreV1Api, ns: str) -> None:
    p = core.create_namespaced_pod(ns, pod_body("b"))
    resp = core.create_namespaced_pod_binding(
        "b",
        ns,
        binding("b", "node-a", p.metadata.uid, **{"fip.io/allocation": '{"ip":"10.0.1.17"}'}),
        _preload_content=False,
    )
    assert resp.status == 201
    body = json.loads(resp.data)
    assert body["kind"] == "Status" and body["status"] == "Success" and body["code"] == 201
    bound = core.read_namespaced_pod("b", ns)
    assert bound.spec.node_name == "node-a"
    assert bound.metadata.annotations == {"fip.io/allocation": '{"ip":"10.0.1.17"}'}
    assert [(c.type, c.status) for c in bound.status.conditions or []] == [("PodScheduled", "True")]


def test_bind_merges_annotations(core: client.CoreV1Api, ns: str) -> None:
    body = pod_body("ann")
    body["metadata"]["annotations"] = {"keep": "1"}
    core.create_namespaced_pod(ns, body)
    core.create_namespaced_pod_binding("ann", ns, binding("ann", "n1", added="2"), _preload_content=False)
    assert core.read_namespaced_pod("ann", ns).metadata.annotations == {"keep": "1", "added": "2"}


def test_bind_invalid_target_is_500(core: client.CoreV1Api, ns: str) -> None:
    # ValidatePodBinding's aggregate error is not a StatusError: the real server answers 500
    core.create_namespaced_pod(ns, pod_body("tgt"))
    body = binding("tgt", "n1")
    del body["target"]["name"]
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("tgt", ns, body, _preload_content=False)
    assert err.value.status == 500
    assert "target.name: Required value" in status_body(err.value)["message"]


def test_bind_wrong_target_kind_message(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("tk"))
    body = binding("tk", "n1")
    body["target"]["kind"] = "Pod"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("tk", ns, body, _preload_content=False)
    assert err.value.status == 500
    assert (
        'target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"'
        in (status_body(err.value)["message"])
    )


def test_legacy_bindings_endpoint(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("lb"))
    resp = core.create_namespaced_binding(ns, binding("lb", "node-b"), _preload_content=False)
    assert resp.status == 201
    assert core.read_namespaced_pod("lb", ns).spec.node_name == "node-b"


def test_double_bind_is_409(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("bb"))
    core.create_namespaced_pod_binding("bb", ns, binding("bb", "n1"), _preload_content=False)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("bb", ns, binding("bb", "n2"), _preload_content=False)
    assert err.value.status == 409
    body = status_body(err.value)
    assert body["reason"] == "Conflict"
    assert 'is already assigned to node "n1"' in body["message"]
    assert core.read_namespaced_pod("bb", ns).spec.node_name == "n1"


def test_concurrent_binds_have_one_winner(core: client.CoreV1Api, ns: str) -> None:
    names = [f"race-{i}" for i in range(8)]
    for name in names:
        core.create_namespaced_pod(ns, pod_body(name))
    results: dict[tuple[str, str], int] = {}
    lock = threading.Lock()

    def bind(name: str, node: str) -> None:
        try:
            status = core.create_namespaced_pod_binding(
                name, ns, binding(name, node), _preload_content=False
            ).status
        except ApiException as e:
            status = e.status
        with lock:
            results[(name, node)] = status

    threads = [threading.Thread(target=bind, args=(n, node)) for n in names for node in ("na", "nb", "nc")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in names:
        outcome = {node: results[(name, node)] for node in ("na", "nb", "nc")}
        winners = [node for node, st in outcome.items() if st == 201]
        assert len(winners) == 1 and sorted(outcome.values()) == [201, 409, 409], outcome
        assert core.read_namespaced_pod(name, ns).spec.node_name == winners[0]


def test_concurrent_creates_same_name(core: client.CoreV1Api, ns: str) -> None:
    statuses: list[int] = []

    def create() -> None:
        try:
            core.create_namespaced_config_map(ns, {"metadata": {"name": "same"}})
            statuses.append(201)
        except ApiException as e:
            statuses.append(e.status)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]


def test_bind_with_wrong_uid_is_409(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("wu"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding(
            "wu", ns, binding("wu", "n1", uid="0000-stale"), _preload_content=False
        )
    assert err.value.status == 409
    assert "Precondition failed: UID in precondition: 0000-stale" in status_body(err.value)["message"]
    assert core.read_namespaced_pod("wu", ns).spec.node_name is None


def test_bind_missing_pod_is_404(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("ghost", ns, binding("ghost", "n1"), _preload_content=False)
    assert err.value.status == 404


def test_bind_name_mismatch_is_400(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("nm"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("nm", ns, binding("other", "n1"), _preload_content=False)
    assert err.value.status == 400


def test_bind_terminating_pod_is_409(core: client.CoreV1Api, ns: str) -> None:
    body = pod_body("term")
    body["metadata"]["finalizers"] = ["fip.io/hold"]
    core.create_namespaced_pod(ns, body)
    core.delete_namespaced_pod("term", ns)  # held by its finalizer, deletionTimestamp set
    assert core.read_namespaced_pod("term", ns).metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("term", ns, binding("term", "n1"), _preload_content=False)
    assert err.value.status == 409
    core.patch_namespaced_pod(
        "term", ns, {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    assert gone(core.read_namespaced_pod, "term", ns)


def test_bind_gated_pod_is_409(core: client.CoreV1Api, ns: str) -> None:
    body = pod_body("gated")
    body["spec"]["schedulingGates"] = [{"name": "fip.io/wait"}]
    core.create_namespaced_pod(ns, body)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("gated", ns, binding("gated", "n1"), _preload_content=False)
    assert err.value.status == 409


def test_binding_without_preload_raises_client_side_after_success(core: client.CoreV1Api, ns: str) -> None:
    # kubernetes-client/python#825: the Status reply does not deserialize as V1Binding
    core.create_namespaced_pod(ns, pod_body("cb"))
    with pytest.raises(ValueError):
        core.create_namespaced_pod_binding(
            "cb",
            ns,
            client.V1Binding(
                metadata=client.V1ObjectMeta(name="cb"), target=client.V1ObjectReference(name="n1")
            ),
        )
    assert core.read_namespaced_pod("cb", ns).spec.node_name == "n1"
