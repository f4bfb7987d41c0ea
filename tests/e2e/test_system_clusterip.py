"""ClusterIP for macvlan pods in the whole lab system (`fip-lab up`): Services and Deployments
made through the standard API, EndpointSlices written by the lab's workload controllers, fipd's
map sync and tc programs on node a3 (macvlan), backends plugged by fipd on a bridge node.

From the client pod's own network namespace (the lab names it `<prefix>-p-<pod uid>`): the VIP
answers from every backend, a scale-up adds one, a deleted Service refuses new connections.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from system_lab import NEEDS_ROOT, System, system  # noqa: F401 (the fixture)

from fip.kube.resources import DEPLOYMENTS, PODS, SERVICES
from lab.wait import wait_for

pytestmark = [pytest.mark.e2e, NEEDS_ROOT]
FIP = {"limits": {"fip.io/ip": "1"}, "requests": {"fip.io/ip": "1"}}


def deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": "a1"},
                    "containers": [{"name": "c", "image": "web", "resources": FIP}],
                },
            },
        },
    }


def curl(netns: str, url: str) -> str:
    out = subprocess.run(
        ["nsenter", f"--net=/var/run/netns/{netns}", "curl", "-sS", "--max-time", "2", url],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return out.stdout if out.returncode == 0 else f"ERR {out.stderr.strip()}"


def served_by(netns: str, url: str, tries: int) -> set[str]:
    seen = set()
    for _ in range(tries):
        body = curl(netns, url)
        if not body.startswith("ERR"):
            seen.add(json.loads(body)["pod"])
    return seen


def test_macvlan_pod_reaches_services_through_the_api(system: System) -> None:  # noqa: F811
    c = system.client
    c.create(DEPLOYMENTS, deployment(2))
    c.create(
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client", "namespace": "default"},
            "spec": {
                "nodeSelector": {"kubernetes.io/hostname": "a3"},
                "containers": [{"name": "c", "image": "client", "resources": FIP}],
            },
        },
    )
    c.create(
        SERVICES,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        },
    )
    web = system.wait_pods("app=web", 2)
    client = wait_for(
        lambda: next(
            (
                p
                for p in system.pods()
                if p["metadata"]["name"] == "client" and p.get("status", {}).get("phase") == "Running"
            ),
            None,
        ),
        60,
        "client Running",
    )
    assert client["spec"]["nodeName"] == "a3"
    netns = f"{system.prefix}-p-{client['metadata']['uid']}"
    vip = c.get(SERVICES, "web", "default")["spec"]["clusterIP"]
    names = {f"default/{p['metadata']['name']}" for p in web}
    wait_for(lambda: served_by(netns, f"http://{vip}/", 12) == names, 30, "both backends answer the VIP")

    scaled = c.get(DEPLOYMENTS, "web", "default")
    scaled["spec"]["replicas"] = 3
    c.update(DEPLOYMENTS, scaled)
    names = {f"default/{p['metadata']['name']}" for p in system.wait_pods("app=web", 3)}
    wait_for(lambda: served_by(netns, f"http://{vip}/", 20) == names, 30, "the new backend answers too")

    c.delete(SERVICES, "web", "default")
    wait_for(lambda: curl(netns, f"http://{vip}/").startswith("ERR"), 10, "the deleted Service refuses")
    c.delete(DEPLOYMENTS, "web", "default")
    c.delete(PODS, "client", "default")
