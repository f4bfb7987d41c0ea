"""The verbs people type: label, annotate, the three patch types, scale, rollout status, wait,
delete --wait, describe, cordon/uncordon and drain (pods/eviction, PodDisruptionBudgets)."""

# ruff: noqa: E501  (kubectl's output, verbatim)

from __future__ import annotations

import json
import threading
import time

import pytest
from kubectl_lab import Lab, lab_fixture, table

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]  # a hung kubectl fails the test, not the run
lab = lab_fixture()

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - {name: app, image: "api:1", env: [{name: A, value: "1"}]}
        - {name: proxy, image: envoy}
"""


def pod(name: str, node: str, labels: str = "{}", owner: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default, labels: {labels}{owner}}}\n"
        f"spec: {{nodeName: {node}, terminationGracePeriodSeconds: 0, containers: [{{name: c, image: busybox}}]}}\n"
    )


def status(lab: Lab, kind: str, name: str, body: dict[str, object]) -> None:
    lab.ok("patch", kind, name, "--subresource=status", "--type=merge", "-p", json.dumps({"status": body}))


def test_label_annotate(lab: Lab) -> None:
    lab.apply(DEPLOYMENT)
    assert lab.ok("label", "deployment", "api", "tier=backend").strip() == "deployment.apps/api labeled"
    assert lab.ok("annotate", "deployment", "api", "owner=team-a").strip() == "deployment.apps/api annotated"
    meta = lab.json("get", "deployment", "api")["metadata"]
    assert meta["labels"] == {"tier": "backend"} and meta["annotations"]["owner"] == "team-a"
    out = lab.fails("label", "deployment", "api", "tier=frontend")
    assert "'tier' already has a value (backend), and --overwrite is false" in out.stderr
    lab.ok("label", "deployment", "api", "tier-")
    assert (
        "labels" not in lab.json("get", "deployment", "api")["metadata"]
        or not lab.json("get", "deployment", "api")["metadata"]["labels"]
    )


def test_three_patch_types(lab: Lab) -> None:
    lab.apply(DEPLOYMENT)
    smp = '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"api:2","env":[{"name":"B","value":"2"}]}]}}}}'
    assert lab.ok("patch", "deployment", "api", "-p", smp).strip() == "deployment.apps/api patched"
    spec = lab.json("get", "deployment", "api")["spec"]["template"]["spec"]
    assert [(c["name"], c["image"]) for c in spec["containers"]] == [("app", "api:2"), ("proxy", "envoy")]
    assert [e["name"] for e in spec["containers"][0]["env"]] == ["A", "B"]  # merged by name, new ones after
    lab.ok(
        "patch",
        "deployment",
        "api",
        "--type=merge",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"x"}]}}}}',
    )
    assert [
        c["name"] for c in lab.json("get", "deployment", "api")["spec"]["template"]["spec"]["containers"]
    ] == ["only"]
    lab.ok(
        "patch",
        "deployment",
        "api",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":5}]',
    )
    assert lab.json("get", "deployment", "api")["spec"]["replicas"] == 5
    out = lab.fails(
        "patch", "deployment", "api", "--type=json", "-p", '[{"op":"test","path":"/spec/replicas","value":1}]'
    )
    assert "The request is invalid" in out.stderr or "testing value /spec/replicas failed" in out.stderr
    out = lab.run(
        "patch",
        "deployment",
        "api",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":5}]',
    )
    assert out.returncode == 0 and out.stdout.strip() == "deployment.apps/api patched (no change)"
    lab.apply("apiVersion: fip.io/v1\nkind: Pool\nmetadata: {name: p}\nspec: {subnet: dc1-a, size: 1}\n")
    out = lab.fails(
        "patch", "pool", "p", "-p", '{"spec":{"size":2}}'
    )  # strategic merge is not for custom resources
    assert "application/strategic-merge-patch+json is not supported by fip.io/v1, Kind=Pool" in out.stderr
    assert (
        lab.ok("patch", "pool", "p", "--type=merge", "-p", '{"spec":{"size":2}}').strip()
        == "pool.fip.io/p patched"
    )


def test_scale_and_rollout_status(lab: Lab) -> None:
    lab.apply(DEPLOYMENT.replace("name: api,", "name: roll,").replace("app: api", "app: roll"))
    assert lab.ok("scale", "deployment", "roll", "--replicas=3").strip() == "deployment.apps/roll scaled"
    gen = lab.json("get", "deployment", "roll")["metadata"]["generation"]
    assert lab.json("get", "deployment", "roll")["spec"]["replicas"] == 3
    out = lab.fails("rollout", "status", "deployment/roll", "--timeout=1s")
    assert "error: timed out waiting for the condition" in out.stderr

    def controller() -> None:  # what the deployment controller would write
        time.sleep(0.5)
        status(lab, "deployment", "roll", {
            "observedGeneration": gen, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}],
        })  # fmt: skip

    thread = threading.Thread(target=controller)
    thread.start()
    out = lab.ok("rollout", "status", "deployment/roll", "--timeout=20s")
    thread.join()
    assert out.strip().endswith('deployment "roll" successfully rolled out')


def test_wait_for_condition_and_delete(lab: Lab) -> None:
    lab.apply("apiVersion: v1\nkind: Node\nmetadata: {name: wait-n}\n")
    lab.apply(pod("w1", "wait-n"))

    def kubelet() -> None:
        time.sleep(0.5)
        status(lab, "pod", "w1", {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})

    thread = threading.Thread(target=kubelet)
    thread.start()
    assert (
        lab.ok("wait", "--for=condition=Ready", "pod/w1", "--timeout=20s").strip() == "pod/w1 condition met"
    )
    thread.join()
    out = lab.fails("wait", "--for=condition=Ready=False", "pod/w1", "--timeout=1s")
    assert "timed out waiting for the condition on pods/w1" in out.stderr
    assert (
        lab.ok("wait", "--for=jsonpath={.status.phase}=Running", "pod/w1", "--timeout=5s").strip()
        == "pod/w1 condition met"
    )
    threading.Timer(0.5, lambda: lab.ok("delete", "pod", "w1", "--wait=false")).start()
    assert lab.ok("wait", "--for=delete", "pod/w1", "--timeout=20s").strip() == "pod/w1 condition met"


def test_delete_wait_until_finalizers_are_gone(lab: Lab) -> None:
    lab.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [fip.io/test]}\ndata: {a: b}\n"
    )
    out = lab.fails("delete", "configmap", "held", "--timeout=2s")
    assert "timed out waiting for the condition" in out.stderr
    assert lab.json("get", "configmap", "held")["metadata"]["deletionTimestamp"]
    threading.Timer(
        0.5,
        lambda: lab.ok(
            "patch",
            "configmap",
            "held",
            "--type=json",
            "-p",
            '[{"op":"remove","path":"/metadata/finalizers"}]',
        ),
    ).start()
    assert (
        lab.ok("delete", "configmap", "held", "--wait", "--timeout=20s").strip()
        == 'configmap "held" deleted from default namespace'
    )
    lab.fails("get", "configmap", "held")


def test_describe_shows_events_by_field_selector(lab: Lab) -> None:
    lab.apply("apiVersion: v1\nkind: Node\nmetadata: {name: desc-n}\n")
    lab.apply(pod("d1", "desc-n"))
    uid = lab.json("get", "pod", "d1")["metadata"]["uid"]
    lab.apply(
        "apiVersion: v1\nkind: Event\nmetadata: {name: d1.1, namespace: default}\n"
        f"involvedObject: {{kind: Pod, name: d1, namespace: default, uid: {uid}}}\nreason: Pulled\ntype: Normal\n"
        'message: "Container image already present"\nsource: {component: kubelet, host: desc-n}\n'
        'firstTimestamp: "2026-01-01T00:00:00Z"\nlastTimestamp: "2026-01-01T00:00:00Z"\ncount: 2\n'
    )
    out = lab.ok("describe", "pod", "d1")
    assert "Name:             d1" in out and "Node:             desc-n/" in out
    events = out.split("Events:", 1)[1]
    assert "Normal  Pulled" in events and "kubelet" in events and "Container image already present" in events


def test_cordon_drain_evicts_with_the_eviction_api(lab: Lab) -> None:
    lab.apply("apiVersion: v1\nkind: Node\nmetadata: {name: drain-n}\n")
    lab.apply(pod("e1", "drain-n") + "---\n" + pod("e2", "drain-n"))
    out = lab.fails("drain", "drain-n", "--timeout=5s")
    assert (
        "cannot delete Pods that declare no controller (use --force to override): default/e1, default/e2"
        in out.stderr
    )
    out = lab.run("drain", "drain-n", "--force", "--timeout=20s")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "node/drain-n already cordoned"
    assert {"evicting pod default/e1", "evicting pod default/e2", "pod/e1 evicted", "pod/e2 evicted"} <= set(
        lines
    )
    assert lines[-1] == "node/drain-n drained"
    assert lab.json("get", "node", "drain-n")["spec"]["unschedulable"] is True
    lab.fails("get", "pod", "e1")
    assert lab.ok("uncordon", "drain-n").strip() == "node/drain-n uncordoned"


def test_drain_blocked_by_a_disruption_budget(lab: Lab) -> None:
    lab.apply("apiVersion: v1\nkind: Node\nmetadata: {name: pdb-n}\n")
    lab.apply(pod("db-0", "pdb-n", "{app: db}"))
    status(lab, "pod", "db-0", {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})
    lab.apply(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: db}\n"
        "spec: {minAvailable: 1, selector: {matchLabels: {app: db}}}\n"
    )
    out = lab.fails("drain", "pdb-n", "--force", "--timeout=3s", timeout=30)
    assert (
        'error when evicting pods/"db-0" -n "default" (will retry after 5s): Cannot evict pod as it would violate '
        "the pod's disruption budget." in out.stderr
    )
    assert (
        'error: unable to drain node "pdb-n" due to error: error when evicting pods/"db-0" -n "default": global timeout reached: 3s'
        in out.stderr
    )
    assert lab.json("get", "pod", "db-0")["metadata"]["name"] == "db-0"  # still there
    rows = table(lab.ok("get", "pdb", "db"))  # the status a disruption controller would keep
    assert rows[0] == ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]
    assert rows[1][:4] == ["db", "1", "N/A", "0"]


def test_drain_evicts_what_the_budget_allows(lab: Lab) -> None:
    lab.apply("apiVersion: v1\nkind: Node\nmetadata: {name: pdb-m}\n")
    lab.apply(pod("kv-0", "pdb-m", "{app: kv}") + "---\n" + pod("kv-1", "pdb-m", "{app: kv}"))
    for name in ("kv-0", "kv-1"):
        status(lab, "pod", name, {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})
    lab.apply(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: kv}\n"
        "spec: {minAvailable: 1, selector: {matchLabels: {app: kv}}}\n"
    )
    out = lab.fails("drain", "pdb-m", "--force", "--timeout=3s", timeout=30)
    assert "Cannot evict pod as it would violate the pod's disruption budget." in out.stderr
    left = [p["metadata"]["name"] for p in lab.json("get", "pods", "-l", "app=kv")["items"]]
    assert len(left) == 1  # one eviction allowed, the second refused
    budget = lab.json("get", "pdb", "kv")["status"]
    assert budget["disruptionsAllowed"] == 0 and set(budget["disruptedPods"]) <= {"kv-0", "kv-1"}
