# ruff: noqa: F811  (fixtures imported from heldout_server are re-bound as test parameters)
"""Held-out-style checks of pods against a standalone `fip-lab apiserver`, through the official
client only: the status subresource (podIP/podIPs), the fip.io/ip extended resource, eviction,
and deletion (grace, kubelet confirmation, finalizers, preconditions). Binding and garbage
collection have their own modules.

Real-server sources: `pkg/registry/core/pod/strategy.go` (status strategy, CheckGracefulDelete),
`pkg/apis/core/v1/conversion.go`, apiserver `registry/generic/registry/store.go` (graceful delete,
finalizers, preconditions). Gaps in the lab server are `xfail(strict=True)`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from heldout_server import (  # noqa: F401
    api_client,
    apps,
    binding,
    core,
    eventually,
    gone,
    kubeconfig,
    ns,
    pod_body,
    status_body,
)
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


# --- status subresource -------------------------------------------------------------------------


def test_patch_pod_status(core: client.CoreV1Api, ns: str) -> None:
    p = core.create_namespaced_pod(ns, pod_body("st", node="n1"))
    out = core.patch_namespaced_pod_status(
        "st", ns, {"status": {"phase": "Running", "podIP": "10.0.1.17", "podIPs": [{"ip": "10.0.1.17"}]}}
    )
    assert out.status.phase == "Running" and out.status.pod_ip == "10.0.1.17"
    assert out.metadata.resource_version != p.metadata.resource_version
    assert out.metadata.generation == p.metadata.generation  # status writes never bump generation
    got = core.list_namespaced_pod(ns, field_selector="status.podIP=10.0.1.17")
    assert [i.metadata.name for i in got.items] == ["st"]


def test_pod_ip_and_pod_ips_are_kept_in_step(core: client.CoreV1Api, ns: str) -> None:
    cases = {
        "only-ip": ({"podIP": "10.0.0.5"}, "10.0.0.5"),
        "only-ips": ({"podIPs": [{"ip": "10.0.0.6"}]}, "10.0.0.6"),
        "both-differ": ({"podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.8"}]}, "10.0.0.7"),
    }
    for name, (status, want) in cases.items():
        core.create_namespaced_pod(ns, pod_body(name, node="n1"))
        out = core.patch_namespaced_pod_status(name, ns, {"status": status})
        assert out.status.pod_ip == want, name
        assert [i.ip for i in out.status.pod_ips] == [want], name
    core.create_namespaced_pod(ns, pod_body("host", node="n1"))
    out = core.patch_namespaced_pod_status("host", ns, {"status": {"hostIP": "192.168.1.1"}})
    assert [i.ip for i in out.status.host_ips] == ["192.168.1.1"]


def test_invalid_pod_ip_is_422(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("badip", node="n1"))
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_pod_status("badip", ns, {"status": {"podIP": "not-an-ip"}})
    assert err.value.status == 422


def test_status_endpoint_ignores_spec_and_main_endpoint_ignores_status(
    core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_pod(ns, pod_body("sep", node="n1"))
    out = core.patch_namespaced_pod_status(
        "sep", ns, {"spec": {"activeDeadlineSeconds": 5}, "status": {"phase": "Running"}}
    )
    assert out.spec.active_deadline_seconds is None and out.status.phase == "Running"
    out = core.patch_namespaced_pod("sep", ns, {"status": {"phase": "Failed"}})
    assert out.status.phase == "Running"


def test_replace_pod_status(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("rs", node="n1"))
    p = core.read_namespaced_pod_status("rs", ns)
    p.status.phase = "Running"
    p.status.conditions = [client.V1PodCondition(type="Ready", status="True")]
    out = core.replace_namespaced_pod_status("rs", ns, p)
    assert out.status.phase == "Running"
    assert [(c.type, c.status) for c in out.status.conditions] == [("Ready", "True")]
    p.status.phase = "Failed"  # stale resourceVersion
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_pod_status("rs", ns, p)
    assert err.value.status == 409


def test_scheduler_style_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    body = pod_body("mine")
    body["spec"].update(schedulerName="fip-scheduler", hostNetwork=True, restartPolicy="Never")
    core.create_namespaced_pod(ns, body)
    core.create_namespaced_pod(ns, pod_body("other"))
    core.patch_namespaced_pod_status("other", ns, {"status": {"nominatedNodeName": "n9"}})

    def names(sel: str) -> list[str]:
        return sorted(p.metadata.name for p in core.list_namespaced_pod(ns, field_selector=sel).items)

    assert names("spec.schedulerName=fip-scheduler,spec.nodeName=") == ["mine"]
    assert names("spec.hostNetwork=true") == ["mine"]
    assert names("spec.restartPolicy=Never") == ["mine"]
    assert names("status.nominatedNodeName=n9") == ["other"]


def test_pod_spec_is_mostly_immutable(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("imm", node="n1"))
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_pod("imm", ns, {"spec": {"nodeName": "n2"}})
    assert err.value.status == 422
    assert status_body(err.value)["reason"] == "Invalid"


def _ip_pod(name: str, resources: dict[str, Any]) -> dict[str, Any]:
    body = pod_body(name)
    body["spec"]["containers"][0]["resources"] = resources
    return body


def test_extended_resource_requests_equal_limits_accepted(core: client.CoreV1Api, ns: str) -> None:
    res = {"requests": {"fip.io/ip": "1"}, "limits": {"fip.io/ip": "1"}}
    p = core.create_namespaced_pod(ns, _ip_pod("ok", res))
    assert p.spec.containers[0].resources.requests == {"fip.io/ip": "1"}


def test_extended_resource_limits_only_defaults_requests(core: client.CoreV1Api, ns: str) -> None:
    p = core.create_namespaced_pod(ns, _ip_pod("lim", {"limits": {"fip.io/ip": "1"}}))
    assert p.spec.containers[0].resources.requests == {"fip.io/ip": "1"}


def test_extended_resource_validation(core: client.CoreV1Api, ns: str) -> None:
    bad = {
        "req-only": {"requests": {"fip.io/ip": "1"}},
        "unequal": {"requests": {"fip.io/ip": "1"}, "limits": {"fip.io/ip": "2"}},
        "fraction": {"limits": {"fip.io/ip": "500m"}},
    }
    for name, res in bad.items():
        with pytest.raises(ApiException) as err:
            core.create_namespaced_pod(ns, _ip_pod(name, res))
        assert err.value.status == 422, name


# --- binding --------------------------------------------------------------------------------------


# --- deletion -------------------------------------------------------------------------------------


def test_unscheduled_pod_deletes_immediately(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("u"))
    core.delete_namespaced_pod("u", ns)
    assert gone(core.read_namespaced_pod, "u", ns)


def test_scheduled_pod_graceful_delete_then_confirm(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("g", node="n1"))
    raw = core.delete_namespaced_pod("g", ns, _preload_content=False)
    assert raw.status == 200
    returned = json.loads(raw.data)
    assert returned["kind"] == "Pod"  # graceful: the object comes back, not a Status
    assert returned["metadata"]["deletionGracePeriodSeconds"] == 30
    p = core.read_namespaced_pod("g", ns)
    assert p.metadata.deletion_timestamp is not None
    assert p.metadata.deletion_grace_period_seconds == 30
    # shorter grace shortens; the kubelet's confirmation is a delete with grace 0
    core.delete_namespaced_pod("g", ns, grace_period_seconds=10)
    assert core.read_namespaced_pod("g", ns).metadata.deletion_grace_period_seconds == 10
    core.delete_namespaced_pod("g", ns, grace_period_seconds=0)
    assert gone(core.read_namespaced_pod, "g", ns)


def test_grace_period_zero_force_deletes_bound_pod(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("f", node="n1"))
    core.delete_namespaced_pod("f", ns, body=client.V1DeleteOptions(grace_period_seconds=0))
    assert gone(core.read_namespaced_pod, "f", ns)


def test_finished_pod_deletes_immediately(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("done", node="n1"))
    core.patch_namespaced_pod_status("done", ns, {"status": {"phase": "Succeeded"}})
    core.delete_namespaced_pod("done", ns)
    assert gone(core.read_namespaced_pod, "done", ns)


def test_pod_with_terminationgrace_from_spec(core: client.CoreV1Api, ns: str) -> None:
    body = pod_body("tg", node="n1")
    body["spec"]["terminationGracePeriodSeconds"] = 7
    core.create_namespaced_pod(ns, body)
    core.delete_namespaced_pod("tg", ns)
    assert core.read_namespaced_pod("tg", ns).metadata.deletion_grace_period_seconds == 7


def test_pod_finalizer_outlives_kubelet_confirmation(core: client.CoreV1Api, ns: str) -> None:
    body = pod_body("fz", node="n1")
    body["metadata"]["finalizers"] = ["fip.io/ip-release"]
    created = core.create_namespaced_pod(ns, body)
    core.delete_namespaced_pod("fz", ns)
    core.delete_namespaced_pod("fz", ns, grace_period_seconds=0)  # the kubelet's confirmation
    held = core.read_namespaced_pod("fz", ns)
    assert held.metadata.deletion_grace_period_seconds == 0
    assert held.metadata.finalizers == ["fip.io/ip-release"]
    core.patch_namespaced_pod(
        "fz", ns, {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    assert gone(core.read_namespaced_pod, "fz", ns)
    w = watch.Watch()
    seen = []
    for ev in w.stream(
        core.list_namespaced_pod, ns, resource_version=created.metadata.resource_version, timeout_seconds=2
    ):
        seen.append((ev["type"], ev["object"].metadata.deletion_grace_period_seconds))
        if ev["type"] == "DELETED":
            w.stop()
    assert seen == [("MODIFIED", 30), ("MODIFIED", 0), ("DELETED", 0)]


def test_finalizers_hold_deletion(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "fin", "finalizers": ["fip.io/release"]}})
    raw = core.delete_namespaced_config_map("fin", ns, _preload_content=False)
    assert json.loads(raw.data)["kind"] == "ConfigMap"
    cm = core.read_namespaced_config_map("fin", ns)
    assert cm.metadata.deletion_timestamp is not None
    assert cm.metadata.deletion_grace_period_seconds == 0
    with pytest.raises(ApiException) as err:  # no new finalizers once deleting
        core.patch_namespaced_config_map(
            "fin",
            ns,
            {"metadata": {"finalizers": ["fip.io/release", "x.io/other"]}},
            _content_type="application/merge-patch+json",
        )
    assert err.value.status == 422
    core.patch_namespaced_config_map(
        "fin", ns, {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    assert gone(core.read_namespaced_config_map, "fin", ns)


def test_delete_with_resource_version_precondition(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "rvp"}})
    core.patch_namespaced_config_map("rvp", ns, {"data": {"a": "b"}})
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map(
            "rvp",
            ns,
            body=client.V1DeleteOptions(
                preconditions=client.V1Preconditions(resource_version=cm.metadata.resource_version)
            ),
        )
    assert err.value.status == 409


def test_eviction_deletes_pod_gracefully(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("ev", node="n1"))
    resp = core.create_namespaced_pod_eviction(
        "ev",
        ns,
        {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "ev", "namespace": ns}},
        _preload_content=False,
    )
    assert resp.status == 201
    assert core.read_namespaced_pod("ev", ns).metadata.deletion_timestamp is not None


def test_eviction_respects_pod_disruption_budget(
    api_client: client.ApiClient, core: client.CoreV1Api, ns: str
) -> None:
    client.PolicyV1Api(api_client).create_namespaced_pod_disruption_budget(
        ns,
        {"metadata": {"name": "pdb"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}},
    )
    core.create_namespaced_pod(ns, pod_body("px", labels={"app": "x"}, node="n1"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_eviction("px", ns, {"metadata": {"name": "px"}}, _preload_content=False)
    assert err.value.status == 429
    assert core.read_namespaced_pod("px", ns).metadata.deletion_timestamp is None


def test_watch_sees_graceful_pod_deletion(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, pod_body("wg", node="n1"))
    rv = core.list_namespaced_pod(ns).metadata.resource_version
    core.delete_namespaced_pod("wg", ns)
    core.delete_namespaced_pod("wg", ns, grace_period_seconds=0)
    w = watch.Watch()
    events = []
    for ev in w.stream(core.list_namespaced_pod, ns, resource_version=rv, timeout_seconds=3):
        events.append((ev["type"], ev["object"].metadata.deletion_timestamp is not None))
        if ev["type"] == "DELETED":
            w.stop()
    assert events == [("MODIFIED", True), ("DELETED", True)]


def test_deletecollection_pods(core: client.CoreV1Api, ns: str) -> None:
    for i in range(3):
        core.create_namespaced_pod(ns, pod_body(f"c{i}", labels={"grp": "x"}))
    core.create_namespaced_pod(ns, pod_body("keep"))
    core.delete_collection_namespaced_pod(ns, label_selector="grp=x")
    assert [p.metadata.name for p in core.list_namespaced_pod(ns).items] == ["keep"]


# --- propagation policies / ownerReference cascade ------------------------------------------------
