# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of apps/v1 and batch/v1 workloads (defaults, generation, scale
subresource, ControllerRevisions, Jobs), EndpointSlices, Leases, timestamps and the client's leader
election, against a standalone `fip-lab apiserver` through the official client only. CRDs and
TApps have their own module.

Real-server sources: `pkg/apis/apps/v1/defaults.go`, `pkg/registry/apps/*/strategy.go`,
`pkg/registry/batch/job/strategy.go`. Gaps in the lab server are `xfail(strict=True)`.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import threading
import time
import uuid
from typing import Any

import pytest
from heldout_server import api_client, apps, core, custom, eventually, kubeconfig, ns, pod_body, status_body  # noqa: F401
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.configmaplock import ConfigMapLock

pytestmark = pytest.mark.e2e


def deployment(name: str, replicas: int | None = 2) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": pod_body("x")["spec"]},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def statefulset(name: str, replicas: int = 3) -> dict[str, Any]:
    body = deployment(name, replicas)
    body["kind"] = "StatefulSet"
    body["spec"]["serviceName"] = name
    return body


# --- apps/v1 -------------------------------------------------------------------------------------


def test_deployment_defaults(apps: client.AppsV1Api, ns: str) -> None:
    d = apps.create_namespaced_deployment(ns, deployment("defaults", replicas=None))
    assert d.spec.replicas == 1
    assert d.spec.revision_history_limit == 10
    assert d.spec.progress_deadline_seconds == 600
    assert d.spec.template.spec.restart_policy == "Always"
    assert d.spec.strategy.type == "RollingUpdate"
    assert d.spec.strategy.rolling_update.max_surge == "25%"
    assert d.spec.strategy.rolling_update.max_unavailable == "25%"


def test_deployment_generation(apps: client.AppsV1Api, ns: str) -> None:
    d = apps.create_namespaced_deployment(ns, deployment("web", replicas=None))
    assert d.spec.replicas == 1
    assert d.metadata.generation == 1
    d2 = apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 3}})
    assert d2.metadata.generation == 2
    d3 = apps.patch_namespaced_deployment_status(
        "web", ns, {"status": {"observedGeneration": 2, "replicas": 3}}
    )
    assert d3.metadata.generation == 2 and d3.status.observed_generation == 2
    d4 = apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"x": "y"}}})
    assert d4.metadata.generation == 2  # metadata-only changes do not bump generation


def test_deployment_annotation_change_bumps_generation(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("ann"))
    out = apps.patch_namespaced_deployment("ann", ns, {"metadata": {"annotations": {"k": "v"}}})
    assert out.metadata.generation == 2
    apps.create_namespaced_stateful_set(ns, statefulset("ann"))
    sts = apps.patch_namespaced_stateful_set("ann", ns, {"metadata": {"annotations": {"k": "v"}}})
    assert sts.metadata.generation == 1


def test_deployment_selector_must_match_template(apps: client.AppsV1Api, ns: str) -> None:
    body = deployment("bad")
    body["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(ns, body)
    assert err.value.status == 422
    assert "spec.template.metadata.labels" in [
        c["field"] for c in status_body(err.value)["details"]["causes"]
    ]


def test_deployment_selector_is_immutable(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("imm"))
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment(
            "imm",
            ns,
            {
                "spec": {
                    "selector": {"matchLabels": {"app": "imm", "v": "2"}},
                    "template": {"metadata": {"labels": {"app": "imm", "v": "2"}}},
                }
            },
        )
    assert err.value.status == 422


def test_deployment_scale_subresource(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("sc", 2))
    scale = apps.read_namespaced_deployment_scale("sc", ns)
    assert scale.kind == "Scale" and scale.api_version == "autoscaling/v1"
    assert scale.spec.replicas == 2
    assert scale.status.selector == "app=sc"
    out = apps.patch_namespaced_deployment_scale("sc", ns, {"spec": {"replicas": 5}})
    assert out.spec.replicas == 5
    assert apps.read_namespaced_deployment("sc", ns).spec.replicas == 5
    scale = apps.read_namespaced_deployment_scale("sc", ns)
    scale.spec.replicas = 0
    assert apps.replace_namespaced_deployment_scale("sc", ns, scale).spec.replicas == 0
    scale.spec.replicas = 7  # stale resourceVersion
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment_scale("sc", ns, scale)
    assert err.value.status == 409


def test_statefulset_defaults(apps: client.AppsV1Api, ns: str) -> None:
    s = apps.create_namespaced_stateful_set(ns, statefulset("dflt", 3))
    assert s.spec.revision_history_limit == 10
    assert s.spec.pod_management_policy == "OrderedReady"
    assert s.spec.update_strategy.type == "RollingUpdate"
    assert s.spec.update_strategy.rolling_update.partition == 0


def test_statefulset_scale(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_stateful_set(ns, statefulset("db", 3))
    out = apps.patch_namespaced_stateful_set_scale("db", ns, {"spec": {"replicas": 1}})
    assert out.spec.replicas == 1
    assert apps.read_namespaced_stateful_set("db", ns).spec.replicas == 1
    assert apps.read_namespaced_stateful_set_scale("db", ns).status.selector == "app=db"


def test_negative_scale_is_422(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_stateful_set(ns, statefulset("neg", 1))
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_stateful_set_scale("neg", ns, {"spec": {"replicas": -1}})
    assert err.value.status == 422


def test_scale_of_missing_is_404(apps: client.AppsV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment_scale("ghost", ns)
    assert err.value.status == 404


def test_job_defaults_and_generated_selector(api_client: client.ApiClient, ns: str) -> None:
    job = client.BatchV1Api(api_client).create_namespaced_job(
        ns,
        {
            "metadata": {"name": "j"},
            "spec": {
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "b"}]}}
            },
        },
    )
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels["batch.kubernetes.io/job-name"] == "j"
    assert (job.spec.backoff_limit, job.spec.completions, job.spec.parallelism) == (6, 1, 1)
    assert job.spec.completion_mode == "NonIndexed"


def test_controller_revision_revision_is_mutable(apps: client.AppsV1Api, ns: str) -> None:
    cr = apps.create_namespaced_controller_revision(
        ns, {"metadata": {"name": "web-7c9"}, "data": {"spec": {"x": 1}}, "revision": 1}
    )
    cr.revision = 2  # controllers renumber revisions
    assert apps.replace_namespaced_controller_revision("web-7c9", ns, cr).revision == 2


def test_controller_revision_data_is_immutable(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_controller_revision(
        ns, {"metadata": {"name": "cr"}, "data": {"a": 1}, "revision": 1}
    )
    cr = apps.read_namespaced_controller_revision("cr", ns)
    cr.data = {"a": 2}
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_controller_revision("cr", ns, cr)
    assert err.value.status == 422


def test_list_deployments_all_namespaces(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("d-all"))
    names = [(d.metadata.namespace, d.metadata.name) for d in apps.list_deployment_for_all_namespaces().items]
    assert (ns, "d-all") in names


# --- fip.io CRDs -----------------------------------------------------------------------------------


# --- TApps (apps.tkestack.io/v1, namespaced, status + scale) -------------------------------------


# --- EndpointSlices, Leases, leader election -------------------------------------------------------


def test_endpointslices(api_client: client.ApiClient, ns: str) -> None:
    disc = client.DiscoveryV1Api(api_client)
    es = disc.create_namespaced_endpoint_slice(
        ns,
        {
            "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.1.17"], "conditions": {"ready": True}, "nodeName": "n1"}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        },
    )
    assert es.address_type == "IPv4" and es.endpoints[0].addresses == ["10.0.1.17"]
    got = disc.list_namespaced_endpoint_slice(ns, label_selector="kubernetes.io/service-name=web")
    assert [e.metadata.name for e in got.items] == ["web-abc"]


def test_endpointslice_requires_address_type(api_client: client.ApiClient, ns: str) -> None:
    disc = client.DiscoveryV1Api(api_client)
    with pytest.raises(ApiException) as err:
        disc.create_namespaced_endpoint_slice(
            ns, {"metadata": {"name": "bad"}, "endpoints": []}, _preload_content=False
        )
    assert err.value.status == 422


def test_leases(api_client: client.ApiClient, ns: str) -> None:
    coord = client.CoordinationV1Api(api_client)
    lease = coord.create_namespaced_lease(
        ns,
        {
            "metadata": {"name": "fip-controllers"},
            "spec": {
                "holderIdentity": "a",
                "leaseDurationSeconds": 15,
                "acquireTime": "2026-01-01T00:00:00.000000Z",
                "renewTime": "2026-01-01T00:00:00.000000Z",
                "leaseTransitions": 0,
            },
        },
    )
    assert lease.spec.holder_identity == "a"
    assert lease.spec.renew_time.microsecond == 0 and lease.spec.renew_time.year == 2026
    lease.spec.holder_identity = "b"
    lease.spec.lease_transitions = 1
    updated = coord.replace_namespaced_lease("fip-controllers", ns, lease)
    assert updated.spec.holder_identity == "b"
    lease.spec.holder_identity = "c"
    with pytest.raises(ApiException) as err:
        coord.replace_namespaced_lease("fip-controllers", ns, lease)
    assert err.value.status == 409
    assert coord.read_namespaced_lease("fip-controllers", ns).spec.holder_identity == "b"


def test_timestamps_are_normalized(api_client: client.ApiClient, ns: str) -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC)
    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="ts"), spec=client.V1LeaseSpec(holder_identity="a", renew_time=when)
    )
    raw = client.CoordinationV1Api(api_client).create_namespaced_lease(ns, lease, _preload_content=False)
    assert json.loads(raw.data)["spec"]["renewTime"] == "2026-01-02T03:04:05.123456Z"
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="ts.1"),
        involved_object=client.V1ObjectReference(kind="Pod", name="p", namespace=ns),
        first_timestamp=when,
        reason="R",
    )
    raw = client.CoreV1Api(api_client).create_namespaced_event(ns, event, _preload_content=False)
    assert json.loads(raw.data)["firstTimestamp"] == "2026-01-02T03:04:05Z"


class _StoppableLock(ConfigMapLock):  # type: ignore[misc]
    stopped = False

    def update(self, name: str, namespace: str, updated_record: Any) -> bool:
        return False if self.stopped else bool(super().update(name, namespace, updated_record))


def test_leader_election_configmap_lock(kubeconfig: pathlib.Path, core: client.CoreV1Api, ns: str) -> None:
    config.load_kube_config(str(kubeconfig))  # the module's locks use the default client config
    started = threading.Event()
    stopped = threading.Event()
    identity = f"cand-{uuid.uuid4().hex[:6]}"
    lock = _StoppableLock("fip-leader", ns, identity)
    cfg = electionconfig.Config(
        lock,
        lease_duration=3,
        renew_deadline=2,
        retry_period=1,
        onstarted_leading=started.set,
        onstopped_leading=stopped.set,
    )
    worker = threading.Thread(target=leaderelection.LeaderElection(cfg).run, daemon=True)
    worker.start()
    assert started.wait(10)
    cm = core.read_namespaced_config_map("fip-leader", ns)
    record = cm.metadata.annotations["control-plane.alpha.kubernetes.io/leader"]
    assert identity in record
    time.sleep(1.5)
    renewed = core.read_namespaced_config_map("fip-leader", ns)
    assert renewed.metadata.resource_version != cm.metadata.resource_version  # renewals are writes
    lock.stopped = True
    assert stopped.wait(10)
    worker.join(5)
