"""Socket mode on the real kernel: cgroup connect4/sendmsg4/recvmsg4 for fip pods only."""

from __future__ import annotations

from svcobjects import endpoints, load, service

from bpf import netns
from bpf.loader import Datapath
from lab.servicelab import Pod, ServiceLab

HTTP = [("http", 80, "TCP"), ("dns", 53, "UDP")]
TARGET = [("http", 8080, "TCP"), ("dns", 5353, "UDP")]


def enable(dp: Datapath, cgroup: str, *pods: Pod) -> None:
    dp.attach_cgroup(cgroup)
    for pod in pods:
        dp.maps.add_pod(netns.cookie(pod.path))


def test_connect_and_udp_through_the_socket_programs(
    datapath: Datapath, lab: ServiceLab, cgroup: str
) -> None:
    client, local, remote = lab.pod("client", "n1", 17), lab.pod("local", "n1", 18), lab.pod("web", "n2", 19)
    lab.serve(local)
    lab.serve(remote)
    enable(datapath, cgroup, client)
    load(
        datapath,
        [service("web", "10.96.0.10", HTTP), service("loc", "10.96.0.11", HTTP)],
        [endpoints("web", ["10.0.1.19"], TARGET), endpoints("loc", ["10.0.1.18"], TARGET)],
    )
    assert lab.probe(client, "http", ["10.96.0.10:80", "10.96.0.11:80"], cgroup=cgroup) == ["web", "local"]
    assert lab.probe(client, "udp", ["10.96.0.10:53"], cgroup=cgroup) == ["web:ping from 10.96.0.10:53"]
    # connected sockets report the VIP as their peer (getpeername4), as through kube-proxy
    assert lab.probe(client, "udpc", ["10.96.0.10:53"], cgroup=cgroup) == ["web:ping from 10.96.0.10:53"]
    assert lab.probe(client, "peer", ["10.96.0.10:80"], cgroup=cgroup) == ["10.96.0.10:80"]
    stats = datapath.maps.stats()
    assert stats["sock_connect"] >= 3 and stats["sock_sendmsg"] >= 1 and stats["sock_recvmsg"] >= 1


def test_only_fip_pods_are_translated(datapath: Datapath, lab: ServiceLab, cgroup: str) -> None:
    fip, other, remote = lab.pod("fip", "n1", 17), lab.pod("other", "n1", 21), lab.pod("web", "n2", 19)
    lab.serve(remote)
    enable(datapath, cgroup, fip)  # `other` runs in the same cgroup but is not listed
    load(datapath, [service("web", "10.96.0.10", HTTP)], [endpoints("web", ["10.0.1.19"], TARGET)])
    assert lab.probe(fip, "http", ["10.96.0.10:80"], cgroup=cgroup) == ["web"]
    assert lab.probe(other, "http", ["10.96.0.10:80"], cgroup=cgroup)[0].startswith("ERR")
    # outside the cgroup nothing is translated either
    assert lab.probe(fip, "http", ["10.96.0.10:80"])[0].startswith("ERR")


def test_pod_reaches_itself_and_empty_service_is_refused(
    datapath: Datapath, lab: ServiceLab, cgroup: str
) -> None:
    me = lab.pod("me", "n1", 17)
    lab.serve(me)
    enable(datapath, cgroup, me)
    load(
        datapath,
        [service("me", "10.96.0.12", HTTP), service("none", "10.96.0.13", HTTP)],
        [endpoints("me", ["10.0.1.17"], TARGET)],
    )
    out = lab.probe(me, "http", ["10.96.0.12:80", "10.96.0.13:80"], cgroup=cgroup)
    assert out[0] == "me"
    assert out[1].startswith("ERR PermissionError"), out


def test_reattach_replaces_the_programs_without_a_gap(
    datapath: Datapath, lab: ServiceLab, cgroup: str
) -> None:
    client, remote = lab.pod("client", "n1", 17), lab.pod("web", "n2", 19)
    lab.serve(remote)
    enable(datapath, cgroup, client)
    load(datapath, [service("web", "10.96.0.10", HTTP)], [endpoints("web", ["10.0.1.19"], TARGET)])
    second = Datapath.open(datapath.settings)
    try:
        second.attach_cgroup(cgroup)  # the first set is detached only after these are in
        assert lab.probe(client, "http", ["10.96.0.10:80"], cgroup=cgroup) == ["web"]
        second.detach_cgroup(cgroup)
    finally:
        second.close()
    assert lab.probe(client, "http", ["10.96.0.10:80"], cgroup=cgroup)[0].startswith("ERR")
