"""The lab scheduler calls an extender as kube-scheduler does (reference Part 1), against the
lab API server, with a fake extender over real HTTP that records every call."""

from __future__ import annotations

import contextlib
import json
import pathlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from fip.kube.client import KubeClient
from fip.kube.resources import EVENTS, NODES, PODS
from lab.apiserver import APIServer
from lab.scheduler.config import ExtenderConfig, load, parse
from lab.scheduler.extender import HTTPExtender
from lab.scheduler.scheduler import Scheduler
from lab.wait import wait_for

pytestmark = pytest.mark.e2e
REPO = pathlib.Path(__file__).resolve().parents[2]
DEPLOYED = REPO / "deploy" / "kube-scheduler"
Reply = tuple[int, object, float]  # status, JSON body (bytes sent raw), delay before answering
Behaviour = Callable[[str, dict[str, Any]], Reply]


class FakeExtender:
    """Records (verb, headers, body) of every call; `behave(verb, body)` decides the answer.
    The default: filter keeps every node, prioritize scores 0, bind POSTs the Binding."""

    def __init__(self, api_url: str) -> None:
        self.calls: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.client = KubeClient.for_server(api_url)
        self.behave: Behaviour = self.default
        self.roles: dict[str, str] = {}  # configured verb -> filter / prioritize / bind
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.removeprefix("/scheduler/")
                verb = outer.roles.get(path, path)
                body = json.loads(raw)
                outer.calls.append((verb, dict(self.headers), body))
                status, reply, delay = outer.behave(verb, body)
                time.sleep(delay)
                data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/scheduler/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def default(self, verb: str, body: dict[str, Any]) -> Reply:
        if verb == "filter":
            return 200, {"NodeNames": body["NodeNames"], "FailedNodes": {}, "Error": ""}, 0
        if verb == "prioritize":
            return 200, [{"Host": n, "Score": 0} for n in body["NodeNames"]], 0
        return self.bind(body)

    def bind(self, body: dict[str, Any], annotations: dict[str, str] | None = None) -> Reply:
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {
                "name": body["PodName"],
                "namespace": body["PodNamespace"],
                "uid": body["PodUID"],
                "annotations": annotations or {"fip.io/allocation": '{"ip":"10.0.1.17"}'},
            },
            "target": {"apiVersion": "v1", "kind": "Node", "name": body["Node"]},
        }
        self.client.create(PODS, binding, body["PodNamespace"], sub="binding")
        return 200, {"Error": ""}, 0

    def verbs(self) -> list[str]:
        return [verb for verb, _, _ in self.calls]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api() -> Iterator[APIServer]:
    with APIServer(host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def client(api: APIServer) -> KubeClient:
    return KubeClient.for_server(api.url)


@pytest.fixture
def extender(api: APIServer) -> Iterator[FakeExtender]:
    fake = FakeExtender(api.url)
    yield fake
    fake.close()


def base_config(url: str, **changes: Any) -> dict[str, Any]:
    """The extender configuration shipped in deploy/kube-scheduler/ when it exists (with the
    fake's URL), else the same shape written here."""
    doc: dict[str, Any] | None = None
    for path in sorted(DEPLOYED.glob("*.yaml")) if DEPLOYED.is_dir() else []:
        for candidate in yaml.safe_load_all(path.read_text()):
            if isinstance(candidate, dict) and candidate.get("kind") == "KubeSchedulerConfiguration":
                doc = candidate
    if doc is None:
        doc = {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "extenders": [
                {
                    "urlPrefix": "http://fip-extender:8888/scheduler",
                    "filterVerb": "filter",
                    "prioritizeVerb": "prioritize",
                    "bindVerb": "bind",
                    "weight": 1,
                    "nodeCacheCapable": True,
                    "httpTimeout": "2s",
                    "ignorable": False,
                    "managedResources": [{"name": "fip.io/ip", "ignoredByScheduler": True}],
                }
            ],
        }
    ext = dict(doc["extenders"][0])
    ext["urlPrefix"] = url
    ext.update(changes)
    return {**doc, "extenders": [ext]}


@contextlib.contextmanager
def scheduling(
    client: KubeClient, cfg: dict[str, Any], seed: int = 0, fake: FakeExtender | None = None
) -> Iterator[Scheduler]:
    """Run the scheduler for the block, stopping it however the block ends; `fake` learns the
    configured verb names (the shipped file's may differ)."""
    parsed = parse(cfg)
    if fake is not None and parsed.extenders:
        ext = parsed.extenders[0]
        fake.roles = {ext.filter_verb: "filter", ext.prioritize_verb: "prioritize", ext.bind_verb: "bind"}
    sched = Scheduler(client, parsed, seed=seed)
    sched.start()
    try:
        yield sched
    finally:
        sched.stop()


def add_node(client: KubeClient, name: str, cpu: str = "4", **labels: str) -> None:
    client.create(
        NODES,
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            },
        },
    )


def add_pod(
    client: KubeClient, name: str, fip: bool = True, cpu: str = "100m", init: bool = False
) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": {"cpu": cpu}}
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "app:1", "resources": resources}]}
    if fip and init:
        spec["initContainers"] = [{"name": "i", "image": "i:1", "resources": {"limits": {"fip.io/ip": "1"}}}]
    elif fip:
        resources["requests"]["fip.io/ip"] = "1"
        resources["limits"] = {"fip.io/ip": "1"}
    return client.create(
        PODS,
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec},
    )


def node_of(client: KubeClient, name: str) -> str | None:
    node: str | None = client.get(PODS, name, "default")["spec"].get("nodeName")
    return node


def events(client: KubeClient, pod: str, reason: str = "FailedScheduling") -> list[str]:
    items = client.list(EVENTS, "default").get("items") or []
    return [e["message"] for e in items if e["involvedObject"]["name"] == pod and e["reason"] == reason]


def test_filter_then_prioritize_then_bind_with_go_shapes(client: KubeClient, extender: FakeExtender) -> None:
    for n in ("n1", "n2", "n3"):
        add_node(client, n)

    def behave(verb: str, body: dict[str, Any]) -> Reply:
        if verb == "filter":
            return (
                200,
                {"NodeNames": ["n1", "n2"], "FailedNodes": {"n3": "no free IP in subnet dc1-b"}, "Error": ""},
                0,
            )
        if verb == "prioritize":
            return 200, [{"Host": "n1", "Score": 0}, {"Host": "n2", "Score": 10}], 0
        return extender.default(verb, body)

    extender.behave = behave
    with scheduling(client, base_config(extender.url), fake=extender):
        pod = add_pod(client, "web-0")
        assert wait_for(lambda: node_of(client, "web-0")) == "n2"
    assert extender.verbs() == ["filter", "prioritize", "bind"]
    (_, fh, filter_body), (_, ph, prio_body), (_, bh, bind_body) = extender.calls
    for headers in (fh, ph, bh):
        assert headers["Content-Type"] == "application/json"
    assert list(filter_body) == ["Pod", "Nodes", "NodeNames"]
    assert filter_body["Nodes"] is None and filter_body["NodeNames"] == ["n1", "n2", "n3"]
    assert (
        "kind" not in filter_body["Pod"] and filter_body["Pod"]["metadata"]["uid"] == pod["metadata"]["uid"]
    )
    assert prio_body["NodeNames"] == ["n1", "n2"] and prio_body["Nodes"] is None
    assert bind_body == {
        "PodName": "web-0",
        "PodNamespace": "default",
        "PodUID": pod["metadata"]["uid"],
        "Node": "n2",
    }
    bound = client.get(PODS, "web-0", "default")
    assert bound["metadata"]["annotations"]["fip.io/allocation"] == '{"ip":"10.0.1.17"}'
    assert events(client, "web-0", "Scheduled") == ["Successfully assigned default/web-0 to n2"]


def test_prioritize_is_skipped_when_one_node_is_feasible(client: KubeClient, extender: FakeExtender) -> None:
    for n in ("n1", "n2"):
        add_node(client, n)
    extender.behave = lambda verb, body: (
        (200, {"NodeNames": ["n2"], "FailedNodes": {"n1": "subnet full"}}, 0)
        if verb == "filter"
        else extender.default(verb, body)
    )
    with scheduling(client, base_config(extender.url), fake=extender):
        add_pod(client, "web-0")
        assert wait_for(lambda: node_of(client, "web-0")) == "n2"
    assert extender.verbs() == ["filter", "bind"]


def test_managed_resources_gate_the_extender(client: KubeClient, extender: FakeExtender) -> None:
    add_node(client, "n1")
    add_node(client, "n2")
    with scheduling(client, base_config(extender.url), fake=extender):
        add_pod(client, "plain", fip=False)
        assert wait_for(lambda: node_of(client, "plain"))
        assert extender.calls == []  # not interested: no filter, no prioritize, the default binder binds
        add_pod(client, "init-only", init=True)
        assert wait_for(lambda: node_of(client, "init-only"))
    assert extender.verbs() == ["filter", "prioritize", "bind"]
    assert extender.calls[0][2]["Pod"]["metadata"]["name"] == "init-only"


def test_node_list_is_sent_when_not_node_cache_capable(client: KubeClient, extender: FakeExtender) -> None:
    add_node(client, "n1")
    add_node(client, "n2")

    def behave(verb: str, body: dict[str, Any]) -> Reply:
        if verb == "filter":
            keep = [n for n in body["Nodes"]["items"] if n["metadata"]["name"] == "n1"]
            return 200, {"Nodes": {"metadata": {}, "items": keep}, "NodeNames": None}, 0
        return extender.default(verb, body)

    extender.behave = behave
    with scheduling(client, base_config(extender.url, nodeCacheCapable=False), fake=extender):
        add_pod(client, "web-0")
        assert wait_for(lambda: node_of(client, "web-0")) == "n1"
    body = extender.calls[0][2]
    assert body["NodeNames"] is None and list(body["Nodes"]) == ["metadata", "items"]
    assert body["Nodes"]["metadata"] == {}
    assert [n["metadata"]["name"] for n in body["Nodes"]["items"]] == ["n1", "n2"]
    assert all("kind" not in n for n in body["Nodes"]["items"])


def test_rejection_gives_failed_scheduling_event_then_retry_on_a_cluster_event(
    client: KubeClient, extender: FakeExtender
) -> None:
    for n in ("n1", "n2", "n3"):
        add_node(client, n)
    full = {"value": True}

    def behave(verb: str, body: dict[str, Any]) -> Reply:
        if verb == "filter" and full["value"]:
            failed = dict.fromkeys(body["NodeNames"], "no free IP in subnet dc1-a")
            return 200, {"NodeNames": [], "FailedNodes": failed, "Error": ""}, 0
        return extender.default(verb, body)

    extender.behave = behave
    with scheduling(client, base_config(extender.url), fake=extender):
        add_pod(client, "web-0")
        message = wait_for(lambda: events(client, "web-0"))[0]
        assert message == (
            "0/3 nodes are available: 3 no free IP in subnet dc1-a. preemption: 0/3 nodes are available: "
            "3 No preemption victims found for incoming pod."
        )
        cond = wait_for(lambda: client.get(PODS, "web-0", "default")["status"].get("conditions"))
        assert cond[0]["type"] == "PodScheduled" and cond[0]["reason"] == "Unschedulable"
        time.sleep(1.5)
        assert extender.verbs() == ["filter"]  # unschedulable: waits for an event, not a timer
        full["value"] = False
        add_node(client, "n4")  # a cluster event moves the pod back
        assert wait_for(lambda: node_of(client, "web-0"))
    assert extender.verbs()[-1] == "bind" and extender.verbs().count("filter") == 2


def test_filter_timeout_fails_the_attempt_and_backs_off(client: KubeClient, extender: FakeExtender) -> None:
    add_node(client, "n1")
    slow = {"value": True}
    extender.behave = lambda verb, body: (
        (200, {"NodeNames": body["NodeNames"]}, 1.0)
        if verb == "filter" and slow["value"]
        else extender.default(verb, body)
    )
    with scheduling(client, base_config(extender.url, httpTimeout="300ms"), fake=extender):
        add_pod(client, "web-0")
        message = wait_for(lambda: events(client, "web-0"))[0]
        assert "Client.Timeout exceeded" in message and "/scheduler/filter" in message
        cond = client.get(PODS, "web-0", "default")["status"]["conditions"][0]
        assert cond["reason"] == "SchedulerError"
        wait_for(lambda: extender.verbs().count("filter") >= 2, timeout=5)  # retried after the 1 s backoff
        counts = wait_for(
            lambda: [e["count"] for e in client.list(EVENTS, "default")["items"] if e["count"] >= 2]
        )
        assert counts == [2] and len(events(client, "web-0")) == 1  # the repeat is counted, not duplicated
        slow["value"] = False
        assert wait_for(lambda: node_of(client, "web-0"), timeout=10) == "n1"
    first, second = [i for i, v in enumerate(extender.verbs()) if v == "filter"][:2]
    assert second == first + 1


def test_ignorable_extender_errors_are_skipped(client: KubeClient, extender: FakeExtender) -> None:
    add_node(client, "n1")
    add_node(client, "n2")
    extender.behave = lambda verb, body: (500, b"boom", 0)
    with scheduling(client, base_config(extender.url, ignorable=True), fake=extender):
        add_pod(client, "web-0")
        assert wait_for(
            lambda: node_of(client, "web-0")
        )  # filter skipped, bind fell back to the default binder
    assert extender.verbs() == ["filter", "prioritize", "bind"]
    assert events(client, "web-0") == []


def test_bind_error_is_a_scheduler_error_and_retried(client: KubeClient, extender: FakeExtender) -> None:
    add_node(client, "n1")
    attempts = {"bind": 0}

    def behave(verb: str, body: dict[str, Any]) -> Reply:
        if verb == "bind":
            attempts["bind"] += 1
            if attempts["bind"] == 1:
                return 200, {"Error": "subnet dc1-a: no free IP"}, 0
        return extender.default(verb, body)

    extender.behave = behave
    with scheduling(client, base_config(extender.url), fake=extender):
        add_pod(client, "web-0")
        assert wait_for(lambda: node_of(client, "web-0"), timeout=10) == "n1"
    assert events(client, "web-0") == ["binding rejected: subnet dc1-a: no free IP"]
    assert extender.verbs() == ["filter", "bind", "filter", "bind"]


@pytest.mark.parametrize(("score", "winner"), [("10", "n1"), ("10.0", "n2")])
def test_scores_are_weighted_and_non_integers_are_ignored(
    client: KubeClient, extender: FakeExtender, score: str, winner: str
) -> None:
    add_node(client, "n1", cpu="2")  # LeastAllocated prefers n2 (more room)
    add_node(client, "n2", cpu="8")
    extender.behave = lambda verb, body: (
        (200, f'[{{"Host":"n1","Score":{score}}},{{"Host":"n2","Score":0}}]'.encode(), 0)
        if verb == "prioritize"
        else extender.default(verb, body)
    )
    with scheduling(client, base_config(extender.url, weight=2), fake=extender):
        add_pod(client, "web-0", cpu="1")
        assert wait_for(lambda: node_of(client, "web-0")) == winner


def test_large_clusters_send_a_sample_of_feasible_nodes(client: KubeClient, extender: FakeExtender) -> None:
    for i in range(150):
        add_node(client, f"n{i:03d}")
    cfg = base_config(extender.url)
    cfg["percentageOfNodesToScore"] = 10
    with scheduling(client, cfg, fake=extender):
        add_pod(client, "web-0")
        assert wait_for(lambda: node_of(client, "web-0"))
    assert len(extender.calls[0][2]["NodeNames"]) == 100  # max(10% of 150, 100)


def test_no_extender_binds_itself_and_the_shipped_config_parses(client: KubeClient) -> None:
    add_node(client, "n1")
    with scheduling(
        client, {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}
    ):
        add_pod(client, "web-0", fip=False)
        assert wait_for(lambda: node_of(client, "web-0")) == "n1"
        add_pod(client, "wants-ip")  # without the extender's ignoredByScheduler, the node lacks fip.io/ip
        assert wait_for(lambda: events(client, "wants-ip")) == [
            "0/1 nodes are available: 1 Insufficient fip.io/ip. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod."
        ]
    for path in sorted(DEPLOYED.glob("*.yaml")) if DEPLOYED.is_dir() else []:
        assert load(str(path)).extenders, f"{path} configures no extender"


def test_extenders_run_in_order_with_ignorable_ones_last_each_seeing_survivors(
    api: APIServer, client: KubeClient
) -> None:
    for n in ("n1", "n2", "n3"):
        add_node(client, n)
    first, second = FakeExtender(api.url), FakeExtender(api.url)
    order: list[str] = []

    def narrowing(name: str, keep: list[str], hard: bool) -> Behaviour:
        def behave(verb: str, body: dict[str, Any]) -> Reply:
            order.append(name)
            rejected = {n: f"{name} says no" for n in body["NodeNames"] if n not in keep}
            key = "FailedAndUnresolvableNodes" if hard else "FailedNodes"
            return 200, {"NodeNames": [n for n in body["NodeNames"] if n in keep], key: rejected}, 0

        return behave

    first.behave = narrowing("ignorable", [], hard=False)
    second.behave = narrowing("strict", ["n1"], hard=True)
    cfg = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "extenders": [
            {"urlPrefix": first.url, "filterVerb": "filter", "ignorable": True, "nodeCacheCapable": True},
            {"urlPrefix": second.url, "filterVerb": "filter", "nodeCacheCapable": True},
        ],
    }
    try:
        with scheduling(client, cfg):
            add_pod(client, "web-0", fip=False)
            message = wait_for(lambda: events(client, "web-0"))[0]
    finally:
        first.close()
        second.close()
    assert order == ["strict", "ignorable"]
    assert second.calls[0][2]["NodeNames"] == ["n1", "n2", "n3"]
    assert first.calls[0][2]["NodeNames"] == ["n1"]
    assert message == (
        "0/3 nodes are available: 1 ignorable says no, 2 strict says no. "
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )


def test_a_filter_reply_naming_an_unknown_node_is_a_scheduler_error(
    client: KubeClient, extender: FakeExtender
) -> None:
    add_node(client, "n1")
    extender.behave = lambda verb, body: (200, {"NodeNames": ["elsewhere"]}, 0)
    with scheduling(client, base_config(extender.url), fake=extender):
        add_pod(client, "web-0")
        message = wait_for(lambda: events(client, "web-0"))[0]
    assert "claims a filtered node 'elsewhere' which is not found in the input node list" in message


def test_connections_are_kept_alive_and_a_closed_idle_one_is_retried() -> None:
    ports: list[int] = []
    close_after = {"value": False}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            ports.append(self.client_address[1])
            data = json.dumps({"NodeNames": body["NodeNames"]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = close_after["value"]  # closes without saying so, like an idle timeout

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ext = HTTPExtender(
            ExtenderConfig(
                f"http://127.0.0.1:{server.server_address[1]}", filter_verb="filter", node_cache_capable=True
            )
        )
        nodes = [{"metadata": {"name": "n1"}}]
        pod: dict[str, Any] = {"metadata": {"name": "p"}, "spec": {}}
        for _ in range(3):
            assert [n["metadata"]["name"] for n in ext.filter(pod, nodes).nodes] == ["n1"]
        assert len(ports) == 3 and len(set(ports)) == 1  # one kept-alive connection
        close_after["value"] = True
        ext.filter(pod, nodes)  # server closes this connection behind the client's back
        close_after["value"] = False
        time.sleep(0.1)
        assert [n["metadata"]["name"] for n in ext.filter(pod, nodes).nodes] == ["n1"]
        assert len(ports) == 5 and ports[-1] != ports[-2]  # retried on a fresh connection
    finally:
        server.shutdown()
        server.server_close()
