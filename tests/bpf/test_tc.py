"""tc mode on the real kernel: a macvlan pod reaches ClusterIPs through programs on its eth0."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from typing import Any

import pytest
from svcobjects import endpoints, load, service

from bpf import tc
from bpf.errors import CompileFailed
from bpf.loader import Datapath, Settings, remove_pins
from bpf.maps import desired
from lab.servicelab import PODSERVER, Pod, ServiceLab
from lab.topology import single_node

HTTP = [("http", 80, "TCP")]
TARGET = [("http", 8080, "TCP")]


def attach(dp: Datapath, pod: Pod) -> None:
    tc.attach(pod.path, pod.ifname, *dp.tc_fds())


def start_download(lab: ServiceLab, pod: Pod, size: int) -> subprocess.Popen[str]:
    """curl of `size` bytes through the VIP at ~8 MB/s; prints the byte count it got."""
    url = f"http://10.96.0.10/big/{size}?rate=8000000"
    argv = ["curl", "-sS", "--max-time", "30", "-o", "/dev/null", "-w", "%{size_download}", url]
    return lab.popen(pod, argv)


def curl(lab: ServiceLab, pod: Pod, url: str, timeout: float = 5) -> str:
    out = lab.run(pod, "curl", "-sS", "--max-time", str(timeout), url, timeout=timeout + 5)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_http_to_clusterip_served_on_other_and_same_node(datapath: Datapath, lab: ServiceLab) -> None:
    client = lab.pod("client", "n1", 17)
    local, remote = lab.pod("local", "n1", 18), lab.pod("remote", "n2", 19)
    lab.serve(local)
    lab.serve(remote)
    attach(datapath, client)
    assert tc.attached(client.path, "eth0")
    load(
        datapath,
        [service("web-r", "10.96.0.10", HTTP), service("web-l", "10.96.0.11", HTTP)],
        [endpoints("web-r", ["10.0.1.19"], TARGET), endpoints("web-l", ["10.0.1.18"], TARGET)],
    )
    assert curl(lab, client, "http://10.96.0.10/") == "remote"
    assert curl(lab, client, "http://10.96.0.11/") == "local"
    stats = datapath.maps.stats()
    assert stats["nat_new"] >= 2
    assert stats["reverse_nat"] >= 2


def test_backends_replaced_during_a_long_download(datapath: Datapath, lab: ServiceLab) -> None:
    """The established connection keeps its backend; new connections go to the new one."""
    client, old, new = lab.pod("client", "n1", 17), lab.pod("old", "n2", 19), lab.pod("new", "n2", 20)
    lab.serve(old)
    lab.serve(new)
    attach(datapath, client)
    load(datapath, [service("web", "10.96.0.10", HTTP)], [endpoints("web", ["10.0.1.19"], TARGET)])
    size = 24 * 1024 * 1024  # ~3 s at 8 MB/s
    download = start_download(lab, client, size)
    time.sleep(1.0)
    load(datapath, [service("web", "10.96.0.10", HTTP)], [endpoints("web", ["10.0.1.20"], TARGET)])
    assert curl(lab, client, "http://10.96.0.10/") == "new"
    out, err = download.communicate(timeout=30)
    assert download.returncode == 0, err
    assert int(out) == size


def test_pod_reaches_itself_through_its_service(datapath: Datapath, lab: ServiceLab) -> None:
    client = lab.pod("self", "n1", 17)
    lab.serve(client)
    attach(datapath, client)
    load(
        datapath,
        [service("me", "10.96.0.12", [*HTTP, ("dns", 53, "UDP")])],
        [endpoints("me", ["10.0.1.17"], [*TARGET, ("dns", 5353, "UDP")])],
    )
    for _ in range(3):
        assert curl(lab, client, "http://10.96.0.12/") == "self"
    assert lab.probe(client, "udpc", ["10.96.0.12:53"]) == ["self:ping from 10.96.0.12:53"]
    assert datapath.maps.stats()["hairpin"] >= 3


def test_udp_request_response(datapath: Datapath, lab: ServiceLab) -> None:
    client, remote = lab.pod("client", "n1", 17), lab.pod("dns", "n2", 19)
    lab.serve(remote)
    attach(datapath, client)
    load(
        datapath,
        [service("dns", "10.96.0.53", [("dns", 53, "UDP")])],
        [endpoints("dns", ["10.0.1.19"], [("dns", 5353, "UDP")])],
    )
    # unconnected sendto/recvfrom and a connected socket: both see the reply come from the VIP
    assert lab.probe(client, "udp", ["10.96.0.53:53"] * 3) == ["dns:ping from 10.96.0.53:53"] * 3
    assert lab.probe(client, "udpc", ["10.96.0.53:53"]) == ["dns:ping from 10.96.0.53:53"]


def test_deleted_service_refuses_new_connections_within_a_second(datapath: Datapath, lab: ServiceLab) -> None:
    client, remote = lab.pod("client", "n1", 17), lab.pod("web", "n2", 19)
    lab.serve(remote)
    attach(datapath, client)
    load(datapath, [service("web", "10.96.0.10", HTTP)], [endpoints("web", ["10.0.1.19"], TARGET)])
    assert curl(lab, client, "http://10.96.0.10/") == "web"
    load(datapath, [], [])
    out = lab.probe(client, "http", ["10.96.0.10:80"])
    assert out[0].startswith("ERR"), out
    assert float(out[0].rsplit("(after ", 1)[1].split(" ")[0]) < 1.0  # refused, not timed out


def test_service_without_endpoints_is_refused_others_unaffected(datapath: Datapath, lab: ServiceLab) -> None:
    client, remote = lab.pod("client", "n1", 17), lab.pod("web", "n2", 19)
    lab.serve(remote)
    attach(datapath, client)
    load(
        datapath,
        [service("web", "10.96.0.10", HTTP), service("empty", "10.96.0.13", HTTP)],
        [
            endpoints("web", ["10.0.1.19"], TARGET),
            endpoints("empty", ["10.0.1.30"], TARGET, not_ready=("10.0.1.30",)),
        ],
    )
    out = lab.probe(client, "http", ["10.96.0.13:80", "10.96.0.10:80"])
    assert out[0].startswith("ERR") and out[1] == "web", out
    assert datapath.maps.stats()["no_backend"] >= 1


def test_thousand_services_all_reachable(datapath: Datapath, lab: ServiceLab) -> None:
    client, a, b = lab.pod("client", "n1", 17), lab.pod("a", "n1", 18), lab.pod("b", "n2", 19)
    lab.serve(a)
    lab.serve(b)
    attach(datapath, client)
    services, slices, targets, expect = [], [], [], []
    for i in range(1000):
        vip = f"10.96.{4 + i // 250}.{1 + i % 250}"
        backend = ("10.0.1.18", "a") if i % 2 else ("10.0.1.19", "b")
        services.append(service(f"s{i}", vip, HTTP))
        slices.append(endpoints(f"s{i}", [backend[0]], TARGET))
        targets.append(f"{vip}:80")
        expect.append(backend[1])
    state = load(datapath, services, slices)
    assert len(state.services) == 1000
    assert datapath.maps.count("services") == 1000
    assert lab.probe(client, "http", targets, timeout=120) == expect


def test_client_ip_affinity(datapath: Datapath, lab: ServiceLab) -> None:
    client, a, b = lab.pod("client", "n1", 17), lab.pod("a", "n2", 18), lab.pod("b", "n2", 19)
    lab.serve(a)
    lab.serve(b)
    attach(datapath, client)
    load(
        datapath,
        [service("sticky", "10.96.0.14", HTTP, affinity=60)],
        [endpoints("sticky", ["10.0.1.18", "10.0.1.19"], TARGET)],
    )
    answers = lab.probe(client, "http", ["10.96.0.14:80"] * 12)
    assert len(set(answers)) == 1 and answers[0] in ("a", "b"), answers
    assert datapath.maps.stats()["affinity_hit"] >= 11


def test_reattach_after_restart_keeps_connections(datapath: Datapath, lab: ServiceLab) -> None:
    """A second compile (fipd restarted) re-opens the pinned maps; swapping the programs on the pod
    leaves a running download intact and new connections keep working."""
    client, web = lab.pod("client", "n1", 17), lab.pod("web", "n2", 19)
    lab.serve(web)
    attach(datapath, client)
    load(datapath, [service("web", "10.96.0.10", HTTP)], [endpoints("web", ["10.0.1.19"], TARGET)])
    size = 16 * 1024 * 1024
    download = start_download(lab, client, size)
    time.sleep(0.5)
    second = Datapath.open(datapath.settings)
    try:
        assert second.maps.read() == datapath.maps.read()  # the same pinned maps
        attach(second, client)
        assert curl(lab, client, "http://10.96.0.10/") == "web"
    finally:
        second.close()
    out, err = download.communicate(timeout=30)
    assert download.returncode == 0, err
    assert int(out) == size
    assert curl(lab, client, "http://10.96.0.10/") == "web"  # programs outlive the closed loader


def test_detach_removes_the_programs(datapath: Datapath, lab: ServiceLab) -> None:
    client = lab.pod("client", "n1", 17)
    attach(datapath, client)
    assert tc.attached(client.path, "eth0")
    tc.detach(client.path, "eth0")
    assert not tc.attached(client.path, "eth0")
    tc.detach(client.path, "eth0")  # idempotent
    tc.detach("/var/run/netns/no-such-pod", "eth0")


def test_sriov_vf_pod_reaches_a_clusterip(datapath: Datapath, tmp_path: Any) -> None:
    """The tc programs on a VF netdev (the lab's veth stand-in, lab.sriovfake) work as on a macvlan:
    the backend is the legacy host behind the switch."""
    gen = iter(single_node("sriov", str(tmp_path / "sys")))
    env = next(gen)
    try:
        pod_ns = env.net.add_netns("vfpod")
        env.driver().plug(env.request(pod_ns, 0, host_octet=40, cid="vf1"))
        host = env.net.hosts["lh0"].netns
        server = subprocess.Popen(
            ["ip", "netns", "exec", host, sys.executable, str(PODSERVER), "legacy", "8080", "5353"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            tc.attach(f"/var/run/netns/{pod_ns}", "eth0", *datapath.tc_fds())
            load(
                datapath,
                [service("legacy", "10.96.0.40", HTTP)],
                [endpoints("legacy", ["10.0.1.250"], TARGET)],
            )
            out = env.net.run(pod_ns, "curl", "-sS", "--max-time", "5", "http://10.96.0.40/")
            assert out.stdout == "legacy", out.stderr
        finally:
            server.kill()
            server.wait()
    finally:
        next(gen, None)


def test_bridge_mode_pod_when_configured(datapath: Datapath, lab: ServiceLab) -> None:
    """fipd --clusterip-bridge: the same programs on a bridge pod's veth (node n2 in bridge mode)."""
    client = lab.pod("bridged", "n2", 21, mode="bridge")
    web = lab.pod("web", "n1", 19)
    lab.serve(web)
    attach(datapath, client)
    load(datapath, [service("web", "10.96.0.10", HTTP)], [endpoints("web", ["10.0.1.19"], TARGET)])
    assert curl(lab, client, "http://10.96.0.10/") == "web"
    assert lab.probe(client, "http", ["10.96.0.10:80"] * 5) == ["web"] * 5


def test_more_services_than_the_map_holds(datapath: Datapath, lab: ServiceLab) -> None:
    """The frontends that fit are loaded and served; the rest are reported, none is half-loaded."""
    client, web = lab.pod("client", "n1", 17), lab.pod("web", "n2", 19)
    lab.serve(web)
    attach(datapath, client)
    limit = datapath.settings.services_max
    services = [service(f"s{i}", f"10.96.{16 + i // 250}.{1 + i % 250}", HTTP) for i in range(limit + 10)]
    slices = [endpoints(f"s{i}", ["10.0.1.19"], TARGET) for i in range(limit + 10)]
    want = desired(services, slices, ids={}, limits=datapath.settings.limits)
    assert len(want.state.services) == limit
    assert sum("not loaded" in str(p) for p in want.problems) == 10
    state = load(datapath, services, slices)
    assert datapath.maps.count("services") == limit == len(state.services)
    loaded = sorted(state.services)[0]
    assert curl(lab, client, f"http://{loaded.vip}/") == "web"


def test_pins_of_another_layout_are_refused_with_the_fix() -> None:
    """A map pinned by a fip with other structs (bpftool stands in for it) is caught before the
    verifier would refuse the programs without saying why."""
    pins = f"/sys/fs/bpf/fip-test-{secrets.token_hex(4)}"
    os.makedirs(pins)
    try:
        subprocess.run(
            [
                "bpftool",
                "map",
                "create",
                f"{pins}/services",
                "type",
                "hash",
                "key",
                "4",
                "value",
                "8",
                "entries",
                "16",
                "name",
                "fip_services",
            ],
            check=True,
        )
        with pytest.raises(CompileFailed, match=f"remove {pins} and restart fipd"):
            Datapath.open(Settings(pin_dir=pins))
    finally:
        remove_pins(pins)
