# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of garbage collection against a standalone `fip-lab apiserver`, through the
official client only: propagationPolicy Background/Foreground/Orphan, ownerReference cascades
(Deployment -> ReplicaSet -> Pod, TApp -> Pod), dangling owners matched by uid, namespace deletion
of custom objects. Real-server source: kube-controller-manager garbage collector, namespace
controller.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from heldout_server import api_client, apps, core, eventually, gone, kubeconfig, ns, pod_body, status_body  # noqa: F401
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


def _rs_with_pods(apps: client.AppsV1Api, core: client.CoreV1Api, ns: str, name: str, n: int) -> Any:
    rs = apps.create_namespaced_replica_set(
        ns,
        {
            "metadata": {"name": name},
            "spec": {
                "replicas": n,
                "selector": {"matchLabels": {"rs": name}},
                "template": {"metadata": {"labels": {"rs": name}}, "spec": pod_body("x")["spec"]},
            },
        },
    )
    for i in range(n):
        body = pod_body(f"{name}-{i}", labels={"rs": name}, node="n1")
        body["metadata"]["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": name,
                "uid": rs.metadata.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        core.create_namespaced_pod(ns, body)
    return rs


def _pods(core: client.CoreV1Api, ns: str, name: str) -> list[Any]:
    return list(core.list_namespaced_pod(ns, label_selector=f"rs={name}").items)


def test_background_propagation_deletes_dependents(
    apps: client.AppsV1Api, core: client.CoreV1Api, ns: str
) -> None:
    _rs_with_pods(apps, core, ns, "bg", 2)
    apps.delete_namespaced_replica_set("bg", ns, propagation_policy="Background")
    assert gone(apps.read_namespaced_replica_set, "bg", ns)  # owner goes first
    # the GC deletes the pods (gracefully: they are bound, so they start terminating)
    eventually(
        lambda: all(p.metadata.deletion_timestamp for p in _pods(core, ns, "bg")), what="pods deleting"
    )


def test_orphan_propagation_strips_owner_references(
    apps: client.AppsV1Api, core: client.CoreV1Api, ns: str
) -> None:
    _rs_with_pods(apps, core, ns, "or", 2)
    apps.delete_namespaced_replica_set("or", ns, body=client.V1DeleteOptions(propagation_policy="Orphan"))
    eventually(lambda: gone(apps.read_namespaced_replica_set, "or", ns), what="rs gone")
    pods = eventually(
        lambda: [p for p in _pods(core, ns, "or") if not p.metadata.owner_references],
        what="owner refs removed",
    )
    assert len(pods) == 2 and all(p.metadata.deletion_timestamp is None for p in pods)


def test_foreground_propagation(apps: client.AppsV1Api, core: client.CoreV1Api, ns: str) -> None:
    _rs_with_pods(apps, core, ns, "fg", 2)
    raw = apps.delete_namespaced_replica_set(
        "fg", ns, propagation_policy="Foreground", _preload_content=False
    )
    returned = json.loads(raw.data)
    assert returned["kind"] == "ReplicaSet"
    assert "foregroundDeletion" in returned["metadata"]["finalizers"]
    assert returned["metadata"]["deletionTimestamp"]
    # the owner stays while its blocking dependents exist; finish the pods like a kubelet would
    eventually(
        lambda: all(p.metadata.deletion_timestamp for p in _pods(core, ns, "fg")), what="pods deleting"
    )
    assert not gone(apps.read_namespaced_replica_set, "fg", ns)
    for p in _pods(core, ns, "fg"):
        core.delete_namespaced_pod(p.metadata.name, ns, grace_period_seconds=0)
    eventually(lambda: gone(apps.read_namespaced_replica_set, "fg", ns), what="rs gone after dependents")


def test_deployment_cascade_to_replicaset_and_pods(
    apps: client.AppsV1Api, core: client.CoreV1Api, ns: str
) -> None:
    dep = apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_body("x")["spec"]},
            },
        },
    )
    rs = apps.create_namespaced_replica_set(
        ns,
        {
            "metadata": {
                "name": "web-5d8f9",
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "web",
                        "uid": dep.metadata.uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d8f9"}},
                "template": {
                    "metadata": {"labels": {"app": "web", "pod-template-hash": "5d8f9"}},
                    "spec": pod_body("x")["spec"],
                },
            },
        },
    )
    body = pod_body("web-5d8f9-abcde", labels={"app": "web"})  # unbound: deleted at once by the GC
    body["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": rs.metadata.name,
            "uid": rs.metadata.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    core.create_namespaced_pod(ns, body)
    apps.delete_namespaced_deployment("web", ns)
    eventually(lambda: gone(apps.read_namespaced_replica_set, "web-5d8f9", ns), what="rs collected")
    eventually(lambda: gone(core.read_namespaced_pod, "web-5d8f9-abcde", ns), what="pod collected")


def test_dependent_of_missing_owner_is_collected(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    body = {
        "metadata": {
            "name": "dep",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": cm.metadata.uid}
            ],
        }
    }
    core.create_namespaced_config_map(ns, body)
    core.delete_namespaced_config_map("owner", ns)
    eventually(lambda: gone(core.read_namespaced_config_map, "dep", ns), what="dependent collected")


def test_tapp_owned_pods_are_collected(core: client.CoreV1Api, ns: str, api_client: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api_client)
    t = custom.create_namespaced_custom_object(
        "apps.tkestack.io",
        "v1",
        ns,
        "tapps",
        {
            "apiVersion": "apps.tkestack.io/v1",
            "kind": "TApp",
            "metadata": {"name": "ta"},
            "spec": {
                "replicas": 1,
                "template": {"metadata": {"labels": {"app": "ta"}}, "spec": pod_body("x")["spec"]},
            },
        },
    )
    body = pod_body("ta-0", labels={"tapp_instance_key": "0"})
    body["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps.tkestack.io/v1",
            "kind": "TApp",
            "name": "ta",
            "uid": t["metadata"]["uid"],
            "controller": True,
        }
    ]
    core.create_namespaced_pod(ns, body)
    custom.delete_namespaced_custom_object("apps.tkestack.io", "v1", ns, "tapps", "ta")
    eventually(lambda: gone(core.read_namespaced_pod, "ta-0", ns), what="TApp pod collected")


def test_owner_recreated_with_new_uid_does_not_adopt(core: client.CoreV1Api, ns: str) -> None:
    old = core.create_namespaced_config_map(ns, {"metadata": {"name": "own"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "own", "uid": old.metadata.uid}
    core.delete_namespaced_config_map("own", ns)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "own"}})  # same name, new uid
    core.create_namespaced_config_map(ns, {"metadata": {"name": "dep2", "ownerReferences": [ref]}})
    # the GC matches owners by uid: the recreated owner is not this dependent's owner
    eventually(
        lambda: gone(core.read_namespaced_config_map, "dep2", ns),
        timeout=2,
        what="dependent of old uid collected",
    )
    assert not gone(core.read_namespaced_config_map, "own", ns)


def test_namespace_deletion_removes_custom_objects(
    core: client.CoreV1Api, api_client: client.ApiClient
) -> None:
    custom = client.CustomObjectsApi(api_client)
    name = "h-nsdel-cr"
    core.create_namespace({"metadata": {"name": name}})
    custom.create_namespaced_custom_object(
        "apps.tkestack.io",
        "v1",
        name,
        "tapps",
        {
            "apiVersion": "apps.tkestack.io/v1",
            "kind": "TApp",
            "metadata": {"name": "t"},
            "spec": {"replicas": 0},
        },
    )
    core.delete_namespace(name)
    eventually(lambda: gone(core.read_namespace, name), what="namespace gone")
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object("apps.tkestack.io", "v1", name, "tapps", "t")
    assert err.value.status == 404
