"""deploy/controllers agrees with the code: every Kubernetes call fip-controllers makes in a run
through release, reconcile, rebuild, CRD status and leader election is granted by
deploy/controllers/rbac.yaml, and every grant is used; no delete on pods or nodes, no secrets,
leases only in the controllers' own namespace. The Deployment runs the real CLI's flags."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ctl_kit import SUBNET, by_ip, settle
from fabric import NS, Lab, deployment, statefulset, tapp

from controllers.cli import parse_args
from controllers.manager import Controllers
from fip.core.record import IPState
from fip.kube.client import KubeClient
from fip.kube.resources import DEPLOYMENTS, PODS, STATEFULSETS, SUBNETS, TAPPS, Resource
from fip.store.memory import MemoryStore
from lab.wait import wait_for

pytestmark = pytest.mark.e2e
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "controllers"
VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}
NS_ARG = {"get": 1, "list": 0, "create": 1, "patch": 2, "delete": 1, "watch": 1}
Call = tuple[str, str, str, str]  # (apiGroup, resource[/sub], verb, namespace or "" for cluster-wide)


class Recorder:
    """A KubeClient that remembers every call as the RBAC rule it needs."""

    def __init__(self, client: KubeClient) -> None:
        self._c = client
        self.calls: set[Call] = set()
        self._lock = threading.Lock()

    def _note(self, res: Resource, verb: str, namespace: str | None, sub: str | None = None) -> None:
        name = f"{res.plural}/{sub}" if sub else res.plural
        with self._lock:
            self.calls.add((res.group, name, verb, namespace or ""))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._c, name)
        if name not in VERBS:
            if name == "create_event":
                return self._event
            if name in ("bind_pod", "get_pod", "list_pods", "request"):
                raise AssertionError(f"fip-controllers called KubeClient.{name}")
            return attr

        def call(res: Resource, *args: Any, **kw: Any) -> Any:
            at = NS_ARG.get(name)  # where the method takes its namespace (after res)
            ns = kw.get("namespace") or (args[at] if at is not None and len(args) > at else None)
            if ns is None and name in ("create", "update"):
                ns = (args[0].get("metadata") or {}).get("namespace")
            self._note(res, name, ns if res.namespaced else None, kw.get("sub"))
            return attr(res, *args, **kw)

        return call

    def _event(self, involved: dict[str, Any], *args: Any, **kw: Any) -> None:
        ns = (involved.get("metadata") or {}).get("namespace") or "default"
        with self._lock:
            self.calls.add(("", "events", "create", ns))
        self._c.create_event(involved, *args, **kw)


def rules() -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str, str]]]:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "rbac.yaml").read_text()) if d]
    cluster = {(g, r, v) for d in docs if d["kind"] == "ClusterRole" for rule in d["rules"]
               for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}  # fmt: skip
    ns = {(d["metadata"]["namespace"], g, r, v) for d in docs if d["kind"] == "Role" for rule in d["rules"]
          for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}  # fmt: skip
    return cluster, ns


def test_rules_forbid_what_must_never_be_granted() -> None:
    cluster, ns = rules()
    granted = cluster | {(g, r, v) for _, g, r, v in ns}
    assert not any(r in ("pods", "nodes") and v in ("delete", "deletecollection", "*") for _, r, v in granted)
    assert not any(r in {"secrets", "*"} for _, r, _ in granted)
    assert not any(r == "leases" for _, r, _ in cluster)
    assert {n for n, *_ in ns} == {"kube-system"}
    docs = [d for d in yaml.safe_load_all((DEPLOY / "rbac.yaml").read_text()) if d]
    bindings = [d for d in docs if d["kind"] in ("ClusterRoleBinding", "RoleBinding")]
    assert all(s["name"] == "fip-controllers" for b in bindings for s in b["subjects"])


def test_deployment_runs_two_replicas_with_the_cli_flags() -> None:
    (dep,) = [d for d in yaml.safe_load_all((DEPLOY / "deployment.yaml").read_text()) if d]
    assert dep["spec"]["replicas"] == 2
    spec = dep["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "fip-controllers"
    (c,) = spec["containers"]
    assert c["command"][0] == "fip-controllers"
    args = parse_args([*c["command"][1:], "--redis-url", "redis://r:6379/0", "--id", "x"])
    assert args.lease_namespace == "kube-system" and args.grace == 60 and args.listen == ("0.0.0.0", 9095)
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[Lab, Recorder, Controllers]]:
    store = MemoryStore()
    store.initialise()
    with Lab(tmp_path, store, SUBNET, subnet_resource=True) as lab:
        rec = Recorder(KubeClient.for_server(lab.api.url))
        quick = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5, "watch_period": 0.2}
        ctl = Controllers(rec, store, namespace="kube-system", identity="rbac", period=1.0, **quick)
        ctl.start()
        try:
            yield lab, rec, ctl
        finally:
            ctl.stop()


def test_every_call_is_granted_and_every_grant_used(run: tuple[Lab, Recorder, Controllers]) -> None:
    lab, rec, ctl = run
    wait_for(lambda: SUBNET.name in {s.name for s in lab.store.subnets()}, 20, "subnet synced")
    lab.client.create(STATEFULSETS, statefulset("web", 2, "immutable"), NS)
    lab.client.create(DEPLOYMENTS, deployment("api", 2, "immutable"), NS)
    lab.client.create(TAPPS, tapp("t", 2, "immutable"), NS)
    lab.client.create(
        POOLS_RES,
        {"apiVersion": "fip.io/v1", "kind": "Pool", "metadata": {"name": "p"},
         "spec": {"subnet": SUBNET.name, "size": 3, "namespaces": ["default"]}},
    )  # fmt: skip
    ips = settle(lab, lambda ips: len(ips) == 6, 6)
    lab.fabric.enabled.clear()  # pods deleted now stay away: their IPs are reserved for them
    victims = ["web-0", "t-0", next(n for n in ips if n.startswith("api-"))]
    for name in victims:
        lab.client.delete(PODS, name, NS)
        uid = lab.client.get(PODS, name, NS)["metadata"]["uid"]
        lab.client.delete(PODS, name, NS, uid=uid, grace_period=0)
    wait_for(
        lambda: sum(r.state is IPState.RESERVED for r in by_ip(lab.store).values()) == 3 or None,
        20,
        "reserved",
    )
    owners = ("statefulsets", "deployments", "tapps")
    wait_for(lambda: len([c for c in rec.calls if c[2] == "patch" and c[1] in owners]) == 3 or None, 10,
             "reservations written on the owners")  # fmt: skip
    lab.fabric.enabled.set()
    for res, name in ((STATEFULSETS, "web"), (DEPLOYMENTS, "api"), (TAPPS, "t")):
        lab.client.patch(res, name, {"spec": {"replicas": 1}}, NS)
    lab.client.patch(PODS, "web-0", {"metadata": {"annotations": {"fip.io/pool": "Bad_Name"}}}, NS)
    wait_for(lambda: len(by_ip(lab.store)) <= 4 or None, 20, "scale-down released")
    wait_for(lambda: ("", "events", "create", NS) in rec.calls or None, 10, "an event")
    lab.client.delete(SUBNETS, SUBNET.name)  # refused while in use: status + condition
    wait_for(lambda: ("fip.io", "subnets/status", "patch", "") in rec.calls or None, 10, "status written")
    lab.store.lose_state()  # a rebuild (reads only caches; writes the store)
    wait_for(lambda: ctl.rebuilder.count >= 1 or None, 20, "rebuild")
    wait_for(
        lambda: ("coordination.k8s.io", "leases", "update", "kube-system") in rec.calls or None, 10, "renew"
    )
    ctl.stop()  # releases the Lease (an update)
    cluster, ns = rules()
    used_cluster = {(g, r, v) for g, r, v, n in rec.calls if g != "coordination.k8s.io"}
    used_ns = {(n, g, r, v) for g, r, v, n in rec.calls if g == "coordination.k8s.io"}
    ungranted = {c for c in used_cluster if c not in cluster} | {c for c in used_ns if c not in ns}
    assert not ungranted, f"calls without a grant: {sorted(ungranted)}"
    unused = (cluster - used_cluster) | (ns - used_ns)
    assert not unused, f"grants never used: {sorted(unused)}"


POOLS_RES = Resource("fip.io", "v1", "pools", "Pool", namespaced=False)
