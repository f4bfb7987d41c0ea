"""fipd.daemon over a fake driver, fake pod lookups and the in-memory store: the request logic."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from bridge.driver import PlugRequest, PlugResult
from bridge.errors import CheckFailed, NamespaceStuck, NetlinkError
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.spec import parse_subnet
from fip.store.memory import MemoryStore
from fip.store.protocol import AllocateRequest
from fipd.daemon import Daemon
from fipd.nodenet import NodeSubnets
from fipd.pods import AllocationLookup
from fipd.state import StateDir

ALLOC = {
    "ip": "10.0.1.17",
    "prefix": 24,
    "gateway": "10.0.1.1",
    "vlan": 0,
    "subnet": "dc1-a",
    "owner": "default/Pod/web",
}


def subnet(name: str, cidr: str, gateway: str, vlan: int, l2: str) -> dict[str, Any]:
    spec = {
        "cidr": cidr,
        "gateway": gateway,
        "vlan": vlan,
        "nodeSelector": {"matchLabels": {"fip.io/l2": l2}},
    }
    return {"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": name}, "spec": spec}


SUBNETS = [
    subnet("dc1-a", "10.0.1.0/24", "10.0.1.1", 0, "a"),
    subnet("dc1-b", "10.0.2.0/24", "10.0.2.1", 200, "b"),
]
NODE = {"metadata": {"name": "n1", "labels": {"fip.io/l2": "a"}}}
CONF = json.dumps({"cniVersion": "1.0.0", "name": "fip", "type": "fip-cni"})


class FakeDriver:
    name = "fake"
    steps: tuple[str, ...] = ("veth",)

    def __init__(self) -> None:
        self.plugged: dict[str, PlugRequest] = {}
        self.calls: list[str] = []
        self.fail_plug: Exception | None = None
        self.fail_unplug: Exception | None = None
        self.fail_check: Exception | None = None
        self.check_differences: list[str] = []

    def plug(self, req: PlugRequest) -> PlugResult:
        self.calls.append(f"plug {req.container_id}")
        if self.fail_plug:
            raise self.fail_plug
        self.plugged[req.container_id] = req
        return PlugResult(req.ifname, "0a:58:0a:00:01:11", req.netns_path, "vh1", {"veth": "vh1"})

    def unplug(self, container_id: str, netns_path: str | None, ifname: str, state: dict[str, str]) -> None:
        self.calls.append(f"unplug {container_id} {netns_path}")
        if self.fail_unplug:
            raise self.fail_unplug
        assert state == {"veth": "vh1"}
        self.plugged.pop(container_id, None)

    def check(self, req: PlugRequest, state: dict[str, str]) -> None:
        self.calls.append(f"check {req.container_id}")
        if self.fail_check:
            raise self.fail_check
        if req.container_id not in self.plugged or self.check_differences:
            raise CheckFailed(req.container_id, self.check_differences or ["interface missing"])


def pod(annotations: dict[str, str] | None = None, uid: str = "u-1", fip: bool = True) -> dict[str, Any]:
    resources = {"limits": {"fip.io/ip": "1"}} if fip else {}
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": uid, "annotations": annotations or {}},
        "spec": {"containers": [{"name": "c", "resources": resources}]},
    }


class World:
    def __init__(self, tmp: Path, **kw: Any) -> None:
        self.pods: dict[str, dict[str, Any]] = {"default/web": pod({"fip.io/allocation": json.dumps(ALLOC)})}
        self.driver = FakeDriver()
        self.store = MemoryStore()
        self.store.initialise()
        self.now = 1000.0
        self.netns = tmp / "netns-web"
        self.netns.write_text("")
        self.stuck: list[NamespaceStuck] = []  # what would have ended fipd (fipd.stopping)
        self.daemon = Daemon(
            node="n1",
            driver=self.driver,
            states=StateDir(tmp / "state"),
            lookup=AllocationLookup(lambda ns, n: self.pods.get(f"{ns}/{n}"), self.clock, poll=0.01),
            subnets=NodeSubnets("n1", lambda: SUBNETS, lambda: NODE, self.clock),
            store=self.store,
            service_cidr=ipaddress.ip_network("10.96.0.0/12"),
            annotation_timeout=kw.get("timeout", 0.05),
            clock=self.clock,
            on_stuck=self.stuck.append,
        )

    def clock(self) -> float:
        self.now += 0.01
        return self.now

    def env(self, command: str, cid: str = "c0ffee", **over: str) -> dict[str, str]:
        e = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": cid,
            "CNI_NETNS": str(self.netns),
            "CNI_IFNAME": "eth0",
            "CNI_PATH": "/opt/cni/bin",
            "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_UID=u-1",
        }
        e.update(over)
        return e

    def call(self, command: str, stdin: str = CONF, **over: str) -> dict[str, Any]:
        return self.daemon.handle(self.env(command, **over), stdin)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def error_code(reply: dict[str, Any]) -> int:
    assert "error" in reply, reply
    return int(reply["error"]["code"])


def test_add_returns_cni_result_and_writes_state(world: World) -> None:
    reply = world.call("ADD")
    res = reply["result"]
    assert res["ips"] == [{"address": "10.0.1.17/24", "gateway": "10.0.1.1", "interface": 0}]
    assert res["interfaces"] == [{"name": "eth0", "mac": "0a:58:0a:00:01:11", "sandbox": str(world.netns)}]
    assert {"dst": "10.96.0.0/12", "gw": "10.0.1.1"} in res["routes"]
    state = world.daemon.states.get("c0ffee", "eth0")
    assert state is not None and state.pod_uid == "u-1" and state.ip == "10.0.1.17"


def test_old_cni_versions_get_ip_version_key(world: World) -> None:
    reply = world.call("ADD", json.dumps({"cniVersion": "0.3.1", "name": "fip", "type": "fip-cni"}))
    assert reply["result"]["cniVersion"] == "0.3.1"
    assert reply["result"]["ips"][0]["version"] == "4"


def test_add_marks_the_record_bound(world: World) -> None:
    subnet = parse_subnet(SUBNETS[0])
    world.store.put_subnet(subnet)
    owner = OwnerKey.of("default", "Pod", "web")
    req = AllocateRequest(
        "dc1-a", owner, "u-1", "web", "n1", ReleasePolicy.POD, 1.0, ipaddress.ip_address("10.0.1.17")
    )
    world.store.allocate(req)
    assert "result" in world.call("ADD")
    rec = world.store.get("dc1-a", ipaddress.ip_address("10.0.1.17"))
    assert rec is not None and rec.state.value == "bound" and rec.node == "n1"


def test_bind_refused_undoes_the_plug(world: World) -> None:
    world.store.put_subnet(parse_subnet(SUBNETS[0]))
    owner = OwnerKey.of("default", "Pod", "other")
    req = AllocateRequest(
        "dc1-a", owner, "u-9", "other", "n1", ReleasePolicy.POD, 1.0, ipaddress.ip_address("10.0.1.17")
    )
    world.store.allocate(req)
    assert error_code(world.call("ADD")) == 107
    assert world.driver.plugged == {}
    assert world.daemon.states.get("c0ffee", "eth0") is None


def test_del_is_idempotent_and_tolerates_missing_netns(world: World) -> None:
    world.call("ADD")
    world.netns.unlink()
    assert world.call("DEL") == {"result": None}
    assert "unplug c0ffee None" in world.driver.calls
    assert world.call("DEL") == {"result": None}
    assert world.call("DEL", CNI_NETNS="") == {"result": None}
    assert world.daemon.states.all() == []


def test_failed_unplug_keeps_state_for_retry(world: World) -> None:
    world.call("ADD")
    world.driver.fail_unplug = NetlinkError("delete link", "vh1", "device busy")
    assert error_code(world.call("DEL")) == 105
    assert world.daemon.states.get("c0ffee", "eth0") is not None
    world.driver.fail_unplug = None
    assert world.call("DEL") == {"result": None}
    assert world.daemon.states.get("c0ffee", "eth0") is None


def test_check(world: World) -> None:
    assert error_code(world.call("CHECK")) == 3
    add = world.call("ADD")["result"]
    prev = json.dumps({"cniVersion": "1.0.0", "name": "fip", "type": "fip-cni", "prevResult": add})
    assert world.call("CHECK", prev) == {"result": None}
    world.driver.check_differences = ["default route missing"]
    reply = world.call("CHECK", prev)
    assert error_code(reply) == 108
    assert "default route missing" in reply["error"]["details"]
    wrong = json.dumps({"cniVersion": "1.0.0", "name": "fip", "type": "fip-cni", "prevResult": {"ips": []}})
    assert error_code(world.call("CHECK", wrong)) == 108


def test_repeated_add_returns_the_same_result_without_replugging(world: World) -> None:
    first = world.call("ADD")
    second = world.call("ADD")
    assert first == second
    assert world.driver.calls.count("plug c0ffee") == 1


def test_repeated_add_replugs_a_broken_plug(world: World) -> None:
    world.call("ADD")
    world.driver.plugged.clear()
    assert "result" in world.call("ADD")
    assert world.driver.calls.count("plug c0ffee") == 2


@pytest.mark.parametrize(
    ("over", "code", "text"),
    [
        (
            {"ip": "10.0.2.17", "gateway": "10.0.2.1", "subnet": "dc1-b", "vlan": 200},
            104,
            "not in that subnet",
        ),
        ({"vlan": 300}, 104, "VLAN 300"),
        ({"ip": "10.0.9.17", "gateway": "10.0.9.1"}, 104, "outside subnet dc1-a"),
        ({"subnet": "nowhere"}, 104, "nowhere"),
        ({"gateway": "10.0.1.2"}, 104, "gateway"),
        ({"ip": "010.0.1.17"}, 103, "leading zero"),
    ],
)
def test_allocation_not_for_this_node_is_refused(
    world: World, over: dict[str, object], code: int, text: str
) -> None:
    world.pods["default/web"] = pod({"fip.io/allocation": json.dumps({**ALLOC, **over})})
    reply = world.call("ADD")
    assert error_code(reply) == code
    assert text in reply["error"]["msg"] + reply["error"]["details"]
    assert world.driver.calls == []


def test_pod_without_fip_resource_fails_at_once_with_cause(world: World) -> None:
    world.pods["default/web"] = pod(fip=False)
    reply = world.call("ADD")
    assert error_code(reply) == 102
    assert "does not request the extended resource fip.io/ip" in reply["error"]["details"]


def test_annotation_wait_times_out_with_cause(world: World) -> None:
    world.pods["default/web"] = pod()
    reply = world.call("ADD")
    assert error_code(reply) == 102
    assert "after 0.05 s" in reply["error"]["msg"]
    assert "managedResources" in reply["error"]["details"]


def test_pod_missing_or_replaced(world: World) -> None:
    world.pods["default/web"] = pod({"fip.io/allocation": json.dumps(ALLOC)}, uid="u-2")
    assert error_code(world.call("ADD")) == 106
    world.pods.clear()
    assert error_code(world.call("ADD")) == 101


def test_plug_failure_leaves_no_state(world: World) -> None:
    world.driver.fail_plug = NetlinkError("create veth", "vh1", "File exists")
    reply = world.call("ADD")
    assert error_code(reply) == 105
    assert "File exists" in reply["error"]["details"]
    assert world.daemon.states.all() == []


def test_add_with_vanished_netns_is_code_3(world: World) -> None:
    world.netns.unlink()
    assert error_code(world.call("ADD")) == 3


def test_malformed_input_reaches_the_same_parser(world: World) -> None:
    assert error_code(world.call("ADD", "{")) == 6
    assert error_code(world.call("ADD", CNI_CONTAINERID="../x")) == 4


def test_sweep_unplugs_only_gone_pods(world: World, tmp_path: Path) -> None:
    world.call("ADD")
    other = tmp_path / "netns-b"
    other.write_text("")
    world.pods["default/web2"] = pod(
        {"fip.io/allocation": json.dumps({**ALLOC, "ip": "10.0.1.18"})}, uid="u-2"
    )
    args = "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web2;K8S_POD_UID=u-2"
    assert "result" in world.daemon.handle(
        world.env("ADD", cid="beef", CNI_NETNS=str(other), CNI_ARGS=args), CONF
    )
    assert world.daemon.sweep({"u-1"}) == ["beef"]
    assert [s.container_id for s in world.daemon.states.all()] == ["c0ffee"]
    assert set(world.driver.plugged) == {"c0ffee"}


def test_requests_are_counted_by_outcome(world: World) -> None:
    from fipd.metrics import REQUESTS

    def count(outcome: str) -> float:
        return REQUESTS.labels("ADD", outcome)._value.get()  # type: ignore[no-any-return]

    ok, bad = count("ok"), count("error 6")
    world.call("ADD")
    world.call("ADD", "{")
    assert count("ok") == ok + 1
    assert count("error 6") == bad + 1


def test_new_sandbox_of_the_same_pod_takes_the_ip_over(world: World, tmp_path: Path) -> None:
    """A replaced sandbox whose DEL never reached fipd must not keep the pod's IP plugged."""
    world.call("ADD")
    second = tmp_path / "netns-web-2"
    second.write_text("")
    reply = world.daemon.handle(world.env("ADD", cid="new1", CNI_NETNS=str(second)), CONF)
    assert "result" in reply
    assert set(world.driver.plugged) == {"new1"}
    assert [s.container_id for s in world.daemon.states.all()] == ["new1"]
    assert world.daemon.states.holder("10.0.1.17") == ("new1", "eth0")
    assert world.call("DEL") == {"result": None}  # the old sandbox's late DEL is a no-op
    assert set(world.driver.plugged) == {"new1"}


def test_a_stuck_namespace_is_not_a_cni_error_but_the_end_of_fipd(world: World) -> None:
    """NamespaceStuck from the driver reaches on_stuck (in fipd: log and exit 3); it is not turned
    into a datapath error (code 105) and leaves no state. Were on_stuck to return, the request
    would be answered "try again later"."""
    stuck = NamespaceStuck("/var/run/netns/web", "Operation not permitted")
    world.driver.fail_plug = stuck
    reply = world.call("ADD")
    assert world.stuck == [stuck]
    assert error_code(reply) == 11
    assert "could not return from network namespace /var/run/netns/web" in reply["error"]["details"]
    assert world.daemon.states.all() == []


@pytest.mark.parametrize("command", ["DEL", "CHECK"])
def test_a_stuck_namespace_in_del_or_check_ends_fipd_too(world: World, command: str) -> None:
    world.call("ADD")
    stuck = NamespaceStuck("/var/run/netns/web", "Operation not permitted")
    if command == "DEL":
        world.driver.fail_unplug = stuck
    else:
        world.driver.fail_check = stuck
    assert error_code(world.call(command)) == 11
    assert world.stuck == [stuck]
    assert len(world.daemon.states.all()) == 1  # kept: the restarted fipd's DEL or sweep retries


def test_a_stuck_namespace_stops_the_start_up_sweep(world: World) -> None:
    world.call("ADD")
    stuck = NamespaceStuck("/var/run/netns/web", "Operation not permitted")
    world.driver.fail_unplug = stuck
    with pytest.raises(NamespaceStuck):
        world.daemon.sweep(set())
    assert world.stuck == [stuck]
    assert len(world.daemon.states.all()) == 1


def test_the_announcement_goes_out_after_the_clusterip_programs_are_attached(tmp_path: Path) -> None:
    """Attaching tc programs adds a clsact qdisc, which stops the interface's transmit queue for a
    moment: an announcement submitted before it raced the attach and was dropped about half the
    time (tests/privileged/test_fipd_cni.py, macvlan, one announcement)."""
    order: list[str] = []

    class Announcer:
        def submit(self, netns: str, ifname: str, ip: object, mac: str, count: int) -> None:
            order.append(f"announce {ip} x{count}")

    class ClusterIP:
        def plugged(self, netns: str, ifname: str, driver_mode: str, who: str) -> bool:
            order.append(f"attach {who}")
            return True

    world = World(tmp_path)
    world.daemon.announcer = Announcer()  # type: ignore[assignment]
    world.daemon.clusterip = ClusterIP()  # type: ignore[assignment]
    assert "result" in world.call("ADD")
    assert order == ["attach default/web", "announce 10.0.1.17 x3"]
    assert world.driver.plugged["c0ffee"].garp_count == 0  # the driver itself sends none then
