"""`kubectl get` through server-side printing: the columns and cells kube-apiserver prints for each
kind, `-o wide`, `-A`, `--show-labels`, `-L`, `--sort-by` and `get -w`."""

# ruff: noqa: E501  (kubectl's output, verbatim)

from __future__ import annotations

import re
import subprocess
import time

import pytest
from kubectl_lab import AGE, KUBECTL, Lab, lab_fixture, table

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]  # a hung kubectl fails the test, not the run
lab = lab_fixture()

OBJECTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {node-role.kubernetes.io/control-plane: "", fip.io/l2: dc1-a}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web, tier: front}}
spec:
  nodeName: node-a
  containers: [{name: app, image: nginx}, {name: log, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: crash, namespace: shop, labels: {app: crash}}
spec:
  nodeName: node-a
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: done, namespace: shop}
spec:
  restartPolicy: Never
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: waiting, namespace: shop}
spec:
  initContainers: [{name: init, image: busybox}]
  containers: [{name: app, image: busybox}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: nginx}, {name: log, image: busybox}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-5d9c, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: nginx}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: pg, image: postgres:16}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: edge, namespace: shop}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 443, nodePort: 30443}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
  - addresses: [10.1.0.5]
  - addresses: [10.1.0.6]
  - addresses: [10.1.0.7]
  - addresses: [10.1.0.8]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: fip-controllers, namespace: shop}
spec: {holderIdentity: node-a_1234, leaseDurationSeconds: 15}
"""


@pytest.fixture(scope="module", autouse=True)
def objects(lab: Lab) -> None:
    lab.apply(OBJECTS)
    status = {
        ("node", "node-a", ""): {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                                 "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
                                 "nodeInfo": {"kubeletVersion": "v1.37.1", "osImage": "Debian GNU/Linux 13", "kernelVersion": "6.12.0", "containerRuntimeVersion": "containerd://2.1.0"}},
        ("pod", "web-0", "shop"): {"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}],
                                   "conditions": [{"type": "Ready", "status": "True"}],
                                   "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "image": "nginx", "imageID": "", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}},
                                                         {"name": "log", "ready": False, "restartCount": 0, "image": "busybox", "imageID": "", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]},
        ("pod", "crash", "shop"): {"phase": "Running",
                                   "containerStatuses": [{"name": "app", "ready": False, "restartCount": 4, "image": "busybox", "imageID": "",
                                                          "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                                          "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2020-01-01T00:00:00Z"}}}]},
        ("pod", "done", "shop"): {"phase": "Succeeded",
                                  "containerStatuses": [{"name": "app", "ready": False, "restartCount": 0, "image": "busybox", "imageID": "",
                                                         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]},
        ("pod", "waiting", "shop"): {"phase": "Pending",
                                     "initContainerStatuses": [{"name": "init", "ready": False, "restartCount": 0, "image": "busybox", "imageID": "", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]},
        ("deployment", "web", "shop"): {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        ("replicaset", "web-5d9c", "shop"): {"replicas": 3, "readyReplicas": 2},
        ("statefulset", "db", "shop"): {"replicas": 2, "readyReplicas": 1},
    }  # fmt: skip
    import json

    for (kind, name, ns), st in status.items():
        args = ["patch", kind, name, "--subresource=status", "--type=merge", "-p", json.dumps({"status": st})]
        lab.ok(*args, *(["-n", ns] if ns else []))


def rows_of(text: str) -> dict[str, list[str]]:
    return {r[0]: r for r in table(text)[1:]}


def test_namespaces(lab: Lab) -> None:
    rows = table(lab.ok("get", "namespaces"))
    assert rows[0] == ["NAME", "STATUS", "AGE"]
    assert [r[:2] for r in rows[1:]][:2] == [["default", "Active"], ["kube-node-lease", "Active"]]


def test_pods_ready_status_restarts(lab: Lab) -> None:
    out = lab.ok("get", "pods", "-n", "shop")
    rows = table(out)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    by = {r[0]: r[1:4] for r in rows[1:]}
    assert by["web-0"] == ["1/2", "Running", "0"]
    assert by["crash"][:2] == ["0/1", "CrashLoopBackOff"]
    assert re.fullmatch(rf"4 \({AGE} ago\)", by["crash"][2])
    assert by["done"] == ["0/1", "Completed", "0"]
    assert by["waiting"] == ["0/1", "Init:0/1", "0"]


def test_pods_wide(lab: Lab) -> None:
    rows = table(lab.ok("get", "pods", "-n", "shop", "-o", "wide"))
    assert rows[0] == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    web = next(r for r in rows if r[0] == "web-0")
    assert web[5:] == ["10.1.0.5", "node-a", "<none>", "<none>"]
    done = next(r for r in rows if r[0] == "done")
    assert done[5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_all_namespaces_labels_and_label_columns(lab: Lab) -> None:
    rows = table(lab.ok("get", "pods", "-A", "-l", "app=web"))
    assert rows[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [r[:2] for r in rows[1:]] == [["shop", "web-0"]]
    rows = table(lab.ok("get", "pod", "web-0", "-n", "shop", "--show-labels"))
    assert rows[0][-1] == "LABELS" and rows[1][-1] == "app=web,tier=front"
    rows = table(lab.ok("get", "pods", "-n", "shop", "-L", "tier"))
    assert (
        rows[0][-1] == "TIER"
        and rows_of(lab.ok("get", "pods", "-n", "shop", "-L", "tier"))["web-0"][-1] == "front"
    )


def test_sort_by_asks_for_whole_objects(lab: Lab) -> None:
    rows = table(lab.ok("get", "pods", "-n", "shop", "--sort-by=.metadata.name"))
    assert [r[0] for r in rows[1:]] == ["crash", "done", "waiting", "web-0"]
    rows = table(lab.ok("get", "pods", "-n", "shop", "--sort-by=.status.phase", "-o", "name"))
    assert len(rows) == 4


def test_nodes(lab: Lab) -> None:
    rows = table(lab.ok("get", "nodes"))
    assert rows[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert rows[1][:3] == ["node-a", "Ready", "control-plane"] and rows[1][4] == "v1.37.1"
    wide = table(lab.ok("get", "nodes", "-o", "wide"))
    assert wide[0] == [
        "NAME",
        "STATUS",
        "ROLES",
        "AGE",
        "VERSION",
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
    ]
    assert wide[1][5:] == ["192.168.1.10", "<none>", "Debian GNU/Linux 13", "6.12.0", "containerd://2.1.0"]
    lab.ok("cordon", "node-a")
    assert table(lab.ok("get", "nodes"))[1][1] == "Ready,SchedulingDisabled"
    lab.ok("uncordon", "node-a")


def test_workloads(lab: Lab) -> None:
    rows = table(lab.ok("get", "deployments", "-n", "shop", "-o", "wide"))
    assert rows[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert rows[1][:4] == ["web", "2/3", "3", "2"] and rows[1][5:] == ["app,log", "nginx,busybox", "app=web"]
    rows = table(lab.ok("get", "rs", "-n", "shop"))
    assert rows[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"] and rows[1][:4] == [
        "web-5d9c",
        "3",
        "3",
        "2",
    ]
    rows = table(lab.ok("get", "statefulsets", "-n", "shop", "-o", "wide"))
    assert rows[0] == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    assert rows[1][:2] == ["db", "1/2"] and rows[1][3:] == ["pg", "postgres:16"]


def test_services_endpointslices_leases(lab: Lab) -> None:
    rows = rows_of(lab.ok("get", "services", "-n", "shop", "-o", "wide"))
    assert re.fullmatch(r"10\.\d+\.\d+\.\d+", rows["web"][2])
    assert (
        rows["web"][1] == "ClusterIP"
        and rows["web"][3:5] == ["<none>", "80/TCP,53/UDP"]
        and rows["web"][6] == "app=web"
    )
    assert rows["edge"][1] == "NodePort" and rows["edge"][4] == "443:30443/TCP"
    rows = table(lab.ok("get", "endpointslices", "-n", "shop"))
    assert rows[0] == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert rows[1][:4] == ["web-abc", "IPv4", "8080", "10.1.0.5,10.1.0.6,10.1.0.7 + 1 more..."]
    rows = table(lab.ok("get", "leases", "-n", "shop"))
    assert rows[0] == ["NAME", "HOLDER", "AGE"] and rows[1][:2] == ["fip-controllers", "node-a_1234"]


def test_events(lab: Lab) -> None:
    lab.apply(
        "apiVersion: v1\nkind: Event\nmetadata: {name: web-0.1, namespace: shop}\n"
        "involvedObject: {kind: Pod, name: web-0, namespace: shop}\nreason: Scheduled\ntype: Normal\n"
        'message: "Successfully assigned shop/web-0 to node-a"\nsource: {component: default-scheduler}\n'
        'firstTimestamp: "2026-01-01T00:00:00Z"\nlastTimestamp: "2026-01-01T00:00:00Z"\ncount: 1\n'
    )
    rows = table(lab.ok("get", "events", "-n", "shop"))
    assert rows[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert rows[1][1:] == ["Normal", "Scheduled", "pod/web-0", "Successfully assigned shop/web-0 to node-a"]
    assert (
        table(lab.ok("get", "events.events.k8s.io", "-n", "shop")) == rows
    )  # the same events, printed alike
    wide = table(lab.ok("get", "events", "-n", "shop", "-o", "wide"))
    assert wide[0] == [
        "LAST SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST SEEN",
        "COUNT",
        "NAME",
    ]


def test_single_object_and_no_resources(lab: Lab) -> None:
    rows = table(lab.ok("get", "pod", "web-0", "-n", "shop"))
    assert len(rows) == 2 and rows[1][0] == "web-0" and re.fullmatch(AGE, rows[1][4])
    out = lab.run("get", "pods", "-n", "default")
    assert (
        out.returncode == 0
        and out.stdout == ""
        and out.stderr.strip() == "No resources found in default namespace."
    )
    out = lab.fails("get", "pod", "nope", "-n", "shop")
    assert out.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'


def test_get_watch_prints_changes(lab: Lab) -> None:
    proc = subprocess.Popen(
        [str(KUBECTL), "get", "pods", "-n", "shop", "-l", "app=web", "-w"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab.env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert proc.stdout.readline().split()[:3] == ["web-0", "1/2", "Running"]
        time.sleep(0.3)
        lab.ok("label", "pod", "web-0", "-n", "shop", "watched=yes")
        lab.apply(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: app, image: nginx}]}\n"
        )
        seen = [proc.stdout.readline().split()[:3] for _ in range(2)]
        assert seen == [["web-0", "1/2", "Running"], ["web-1", "0/1", "Pending"]]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
