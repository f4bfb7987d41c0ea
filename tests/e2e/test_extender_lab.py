"""The real fip-extender (gunicorn, 2 workers) on the lab control plane: the lab scheduler loads
deploy/kube-scheduler/scheduler-config.yaml and calls it exactly as kube-scheduler does, Redis
is real, subnets come from `fipctl subnets apply`, workloads from the lab's controllers. No fip
controller runs: stickiness here is the extender's own doing."""

from __future__ import annotations

import concurrent.futures
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from extender_lab import Lab, lab, subnet_yaml

from fip.core import annotation
from fip.kube.resources import DEPLOYMENTS, EVENTS, NODES, PODS, STATEFULSETS
from fip.store.factory import open_store
from lab.extenderproc import BIN, Extender
from lab.wait import wait_for
from lab.workloads.manager import Manager

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DOMAINS = ("dc-a", "dc-b", "dc-c")


@pytest.fixture
def world() -> Iterator[Lab]:
    with lab() as w:
        yield w


def template(app: str, policy: str = "immutable", cpu: str = "100m", **notes: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}, "annotations": {"fip.io/release-policy": policy, **notes}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "resources": {"requests": {"cpu": cpu, "fip.io/ip": "1"}, "limits": {"fip.io/ip": "1"}},
                }
            ]
        },
    }


def bare_pod(name: str, cpu: str = "100m", priority: int | None = None, **notes: str) -> dict[str, Any]:
    t = template(name, "pod", cpu, **notes)
    spec = t["spec"]
    if priority is not None:
        spec["priority"] = priority
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", **t["metadata"]},
        "spec": spec,
    }


def allocation(pod: dict[str, Any]) -> annotation.Allocation | None:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(annotation.KEY)
    return annotation.parse(value) if value else None


def bound_now(world: Lab, prefix: str) -> dict[str, dict[str, Any]]:
    """Live pods named prefix* that are bound and carry an allocation."""
    return {
        p["metadata"]["name"]: p
        for p in world.pods()
        if p["metadata"]["name"].startswith(prefix)
        and not p["metadata"].get("deletionTimestamp")
        and p["spec"].get("nodeName")
        and allocation(p)
    }


def bound(
    world: Lab, prefix: str, count: int, *, not_uids: frozenset[str] = frozenset(), timeout: float = 120
) -> dict[str, dict[str, Any]]:
    """Wait for `count` bound prefix* pods, none with a UID in `not_uids` (replaced pods)."""

    def probe() -> dict[str, dict[str, Any]] | None:
        done = bound_now(world, prefix)
        fresh = all(p["metadata"]["uid"] not in not_uids for p in done.values())
        return done if len(done) == count and fresh else None

    result: dict[str, dict[str, Any]] = wait_for(
        probe, timeout, f"{count} new {prefix}* pods bound with an allocation"
    )
    return result


def force_delete(world: Lab, name: str) -> None:
    world.client.delete(PODS, name, "default", grace_period=0)


def domain_of(world: Lab, node: str) -> str:
    return str(world.client.get(NODES, node)["metadata"]["labels"]["fip.io/l2"])


def three_domains(world: Lab, ips_per_domain: int, nodes_per_domain: int = 2, cpu: str = "4") -> None:
    world.apply(
        *(subnet_yaml(d, i + 1, first=10, last=10 + ips_per_domain - 1) for i, d in enumerate(DOMAINS))
    )
    for d in DOMAINS:
        for i in range(nodes_per_domain):
            world.add_node(f"{d}-n{i}", cpu=cpu, **{"fip.io/l2": d})


def test_statefulset_across_three_domains_keeps_each_ip_and_subnet(world: Lab) -> None:
    three_domains(world, ips_per_domain=1)
    ext = world.start_extender()
    world.start_scheduler(ext)
    manager = Manager(world.client)
    manager.start()
    world.stack.callback(manager.stop)
    world.client.create(
        STATEFULSETS,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 3,
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": {"app": "web"}},
                "template": template("web"),
            },
        },
    )
    first = bound(world, "web-", 3)
    before = {n: allocation(p) for n, p in first.items()}
    # one IP per domain: the three pods sit in three different L2 domains
    assert sorted(a.subnet for a in before.values() if a) == list(DOMAINS)
    for a, p in zip(before.values(), first.values(), strict=True):
        assert a is not None and domain_of(world, p["spec"]["nodeName"]) == a.subnet
    for rounds in range(2):
        victims = ["web-1"] if rounds == 0 else ["web-0", "web-1", "web-2"]
        old_uids = frozenset(first[n]["metadata"]["uid"] for n in victims)
        for n in victims:
            force_delete(world, n)
        again = bound(world, "web-", 3, not_uids=old_uids)
        for n, p in again.items():
            a = allocation(p)
            assert a is not None and before[n] is not None
            assert (a.ip, a.subnet, a.owner) == (before[n].ip, before[n].subnet, before[n].owner), n  # type: ignore[union-attr]
            assert domain_of(world, p["spec"]["nodeName"]) == a.subnet
        first = again
    store = open_store(world.redis.url)
    recs = [r for d in DOMAINS for r in store.by_subnet(d)]
    assert len(recs) == 3
    assert {r.pod_uid for r in recs} == {p["metadata"]["uid"] for p in first.values()}


def test_deployment_keeps_its_ip_set_across_pod_replacement(world: Lab) -> None:
    three_domains(world, ips_per_domain=20)
    ext = world.start_extender()
    world.start_scheduler(ext)
    manager = Manager(world.client)
    manager.start()
    world.stack.callback(manager.stop)
    world.client.create(
        DEPLOYMENTS,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "default"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}}, "template": template("api")},
        },
    )
    pods = bound(world, "api-", 3)
    ips = {str(allocation(p).ip) for p in pods.values()}  # type: ignore[union-attr]
    assert len(ips) == 3
    for name in list(pods):
        force_delete(world, name)
    fresh = bound(world, "api-", 3, not_uids=frozenset(p["metadata"]["uid"] for p in pods.values()))
    assert {str(allocation(p).ip) for p in fresh.values()} == ips  # type: ignore[union-attr]
    store = open_store(world.redis.url)
    assert sum(len(store.by_subnet(d)) for d in DOMAINS) == 3


def test_exhausted_subnet_leaves_the_pod_pending_with_the_reason(world: Lab) -> None:
    world.apply(subnet_yaml("tiny", 9, first=10, last=10))
    world.add_node("t-n0", **{"fip.io/l2": "tiny"})
    world.add_node("outside")
    ext = world.start_extender()
    world.start_scheduler(ext)
    world.client.create(PODS, bare_pod("first"))
    bound(world, "first", 1)
    world.client.create(PODS, bare_pod("second"))

    def event() -> str | None:
        for e in world.client.list(EVENTS, "default")["items"]:
            mine = (
                e.get("reason") == "FailedScheduling"
                and (e.get("involvedObject") or {}).get("name") == "second"
            )
            if mine and "subnet tiny: no free IP (1 of 1 in use)" in e.get("message", ""):
                return str(e["message"])
        return None

    message = wait_for(event, 90, "FailedScheduling event with the extender's reason")
    assert "node outside is in no fip Subnet" in message
    pod = world.client.get(PODS, "second", "default")
    assert not pod["spec"].get("nodeName")
    assert allocation(pod) is None
    assert len(open_store(world.redis.url).by_subnet("tiny")) == 1


def test_two_extender_processes_never_double_allocate(world: Lab) -> None:
    world.apply(subnet_yaml("busy", 7, first=10, last=39))  # 30 IPs
    world.add_node("b-n0", cpu="100", **{"fip.io/l2": "busy"})
    ext_a = world.start_extender()
    ext_b = world.start_extender()
    pods = [world.client.create(PODS, bare_pod(f"race-{i}")) for i in range(40)]

    def bind(i: int) -> tuple[str, str]:
        p = pods[i]
        ext = (ext_a, ext_b)[i % 2]
        args = {
            "PodName": p["metadata"]["name"],
            "PodNamespace": "default",
            "PodUID": p["metadata"]["uid"],
            "Node": "b-n0",
        }
        # the same pod bound by both replicas at once, as two schedulers retrying would
        with concurrent.futures.ThreadPoolExecutor(2) as inner:
            replies = list(inner.map(lambda e: e.post("/fip/bind", args), (ext, (ext_b, ext_a)[i % 2])))
        assert all(status == 200 for status, _ in replies)
        errors = [reply["Error"] for _, reply in replies]
        return p["metadata"]["name"], "" if "" in errors else errors[0]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = dict(pool.map(bind, range(40)))
    ok = [n for n, err in results.items() if err == ""]
    assert len(ok) == 30, results
    live = {p["metadata"]["name"]: p for p in world.pods()}
    ips = [str(allocation(live[n]).ip) for n in ok]  # type: ignore[union-attr]
    assert len(set(ips)) == 30
    recs = open_store(world.redis.url).by_subnet("busy")
    assert len(recs) == 30
    assert {r.pod_uid for r in recs} == {live[n]["metadata"]["uid"] for n in ok}
    assert all("no free" in err.lower() for err in results.values() if err)


def test_binding_refused_by_the_api_server_leaves_no_allocation(world: Lab) -> None:
    three_domains(world, ips_per_domain=5, nodes_per_domain=1)
    ext = world.start_extender()
    p = world.client.create(PODS, bare_pod("refused"))
    world.api.control.inject("create", "pods/binding", status=500)
    args = {
        "PodName": "refused",
        "PodNamespace": "default",
        "PodUID": p["metadata"]["uid"],
        "Node": "dc-a-n0",
    }
    status, reply = ext.post("/fip/bind", args)
    assert status == 200 and "injected fault" in reply["Error"]
    store = open_store(world.redis.url)
    assert all(store.by_subnet(d) == [] for d in DOMAINS)
    world.api.control.clear()
    # a pod that was already bound elsewhere: 409, nothing kept either
    world.client.create(PODS, bare_pod("elsewhere"))
    world.client.create(
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "elsewhere", "namespace": "default"},
            "target": {"kind": "Node", "name": "dc-b-n0"},
        },
        "default",
        sub="binding",
    )
    uid = world.client.get(PODS, "elsewhere", "default")["metadata"]["uid"]
    status, reply = ext.post(
        "/fip/bind", {"PodName": "elsewhere", "PodNamespace": "default", "PodUID": uid, "Node": "dc-a-n0"}
    )
    assert reply["Error"]
    assert all(store.by_subnet(d) == [] for d in DOMAINS)
    # and then a good bind works and is visible in the metrics of either worker
    assert ext.post("/fip/bind", {**args, "PodUID": p["metadata"]["uid"]})[1] == {"Error": ""}
    text = ext.metrics()
    assert (
        'fip_extender_allocation_failures_total{reason="KubeUnavailable"}' in text
        or "allocation_failures_total{" in text
    )


def test_higher_priority_pod_goes_through_the_preempt_verb(world: Lab) -> None:
    world.apply(subnet_yaml("dc-a", 1), subnet_yaml("dc-b", 2))
    world.add_node("a-n0", cpu="1", **{"fip.io/l2": "dc-a"})
    world.add_node("b-n0", cpu="1", **{"fip.io/l2": "dc-b"})
    ext = world.start_extender()
    world.start_scheduler(ext)
    for name in ("low-a", "low-b"):
        world.client.create(PODS, bare_pod(name, cpu="800m", priority=1))
    placed = {n: p["spec"]["nodeName"] for n, p in bound(world, "low-", 2).items()}
    on_b = next(n for n, node in placed.items() if node == "b-n0")
    on_a = next(n for n, node in placed.items() if node == "a-n0")
    # the important pod may only use dc-b; both nodes are full of lower-priority pods, and
    # in-tree preemption alone would consider a-n0 too: the preempt verb drops it
    world.client.create(PODS, bare_pod("vip", cpu="800m", priority=1000, **{"fip.io/subnets": "dc-b"}))
    vip = bound(world, "vip", 1)["vip"]
    assert vip["spec"]["nodeName"] == "b-n0"
    assert allocation(vip).subnet == "dc-b"  # type: ignore[union-attr]
    names = {p["metadata"]["name"] for p in world.pods()}
    assert on_a in names and on_b not in names, names
    text = ext.metrics()
    assert 'fip_extender_request_seconds_count{verb="preempt"}' in text
    assert 'fip_extender_decisions_total{outcome="kept",verb="preempt"}' in text


def test_metrics_are_summed_over_the_gunicorn_workers(world: Lab) -> None:
    three_domains(world, ips_per_domain=5, nodes_per_domain=1)
    ext = world.start_extender(workers=2)
    body = {
        "Pod": {**bare_pod("m"), "metadata": {"name": "m", "namespace": "default", "uid": "u-m"}},
        "Nodes": None,
    }
    for i in range(40):
        status, reply = ext.post("/fip/filter", {**body, "NodeNames": ["dc-a-n0", "dc-b-n0", f"other-{i}"]})
        assert status == 200 and len(reply["NodeNames"]) == 2
    bad = ext.post("/fip/filter", None, raw=b"{")
    assert bad[0] == 400
    text = ext.metrics()
    assert 'fip_extender_request_seconds_count{verb="filter"} 41.0' in text, text
    assert 'fip_extender_node_rejections_total{reason="node_not_cached"} 40.0' in text
    assert 'fip_extender_decisions_total{outcome="bad_request",verb="filter"} 1.0' in text
    assert 'fip_extender_subnet_ips{state="free",subnet="dc-a"} 5.0' in text


def test_start_without_redis_exits_3_with_one_readable_line(world: Lab) -> None:
    from lab.redisproc import free_port

    ext = Extender(
        f"redis://127.0.0.1:{free_port()}", world.kubeconfig, workers=1, log=world.tmp / "noredis.log"
    )
    world.stack.callback(ext.stop)
    assert ext.proc.wait(60) == 3
    log = ext.log_tail(20000)
    assert "cannot start: redis at redis://127.0.0.1:" in log and "cannot reach Redis" in log
    assert "Traceback" not in log
    bad = subprocess.run(
        [str(BIN / "fip-extender"), "--redis-url", "http://x", "--listen", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2 and 'unknown scheme "http"' in bad.stderr


def test_bodies_over_the_default_limit_get_a_json_413_over_the_socket(world: Lab) -> None:
    """kube-scheduler's client keeps sending while the extender has already answered; the 413 must
    still reach it (declared length and chunked), and the worker must serve the next request."""
    import requests

    three_domains(world, ips_per_domain=3, nodes_per_domain=1)
    ext = world.start_extender(workers=1)
    big = b'{"NodeNames":["' + b"n" * (32 * 1024 * 1024) + b'"]}'

    def chunks() -> Iterator[bytes]:
        for _ in range(33):
            yield b"n" * (1024 * 1024)

    for body in (big, chunks()):
        resp = requests.post(
            ext.url + "/fip/filter", data=body, headers={"Content-Type": "application/json"}, timeout=60
        )
        assert resp.status_code == 413, resp.text
        assert "exceeds the limit of 33554432 bytes (--max-body-bytes)" in resp.json()["Error"]
    status, reply = ext.post(
        "/fip/filter",
        {
            "Pod": {**bare_pod("s"), "metadata": {"name": "s", "namespace": "default", "uid": "u-s"}},
            "NodeNames": ["dc-a-n0"],
        },
    )
    assert status == 200 and reply["NodeNames"] == ["dc-a-n0"]
    assert 'fip_extender_decisions_total{outcome="http_413",verb="filter"} 2.0' in ext.metrics()
