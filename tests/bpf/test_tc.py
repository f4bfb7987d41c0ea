"""tc mode on the real kernel: a macvlan pod reaches ClusterIPs through programs on its eth0."""

from __future__ import annotations

from svcobjects import endpoints, load, service

from bpf import tc
from bpf.loader import Datapath
from lab.servicelab import Pod, ServiceLab

HTTP = [("http", 80, "TCP")]
TARGET = [("http", 8080, "TCP")]


def attach(dp: Datapath, pod: Pod) -> None:
    tc.attach(pod.path, pod.ifname, *dp.tc_fds())


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
    load(datapath, [service("web-r", "10.96.0.10", HTTP), service("web-l", "10.96.0.11", HTTP)],
         [endpoints("web-r", ["10.0.1.19"], TARGET), endpoints("web-l", ["10.0.1.18"], TARGET)])  # fmt: skip
    assert curl(lab, client, "http://10.96.0.10/") == "remote"
    assert curl(lab, client, "http://10.96.0.11/") == "local"
    stats = datapath.maps.stats()
    assert stats["nat_new"] >= 2
    assert stats["reverse_nat"] >= 2
