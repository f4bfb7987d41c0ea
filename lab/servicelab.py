"""A two-node lab for ClusterIP tests and the clusterip benchmark: pods, backends, clients.

    with ServiceLab(unique_prefix("fipsvc")) as lab:
        client = lab.pod("client", "n1", 17)            # a macvlan pod (bridge/ driver, real plug)
        web = lab.pod("web", "n2", 30); lab.serve(web)  # podserver.py: HTTP :8080, UDP :5353
        lab.run(client, "curl", "-s", "http://10.96.0.10/")

Layout: switch "sw" (one L2 domain), router "gw" 10.0.1.1/24 with forwarding on (the pods'
gateway; it has no route for the service CIDR, so unanswered ClusterIP traffic is refused by it),
nodes n1 and n2 whose uplink eth1 is the macvlan parent (or hosts fipbr0 in bridge mode). Pods are
plugged with the real driver, so they get what fipd gives them: MAC, address, default route and
the service CIDR route via the gateway.

`run` / `popen` execute a command in a pod's namespace with `nsenter --net` (not `ip netns exec`,
which remounts /sys and would hide the cgroup2 tree), optionally inside a cgroup2 directory, which
socket-mode tests need. Every process started here is killed (by PID) and every namespace removed
on close.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address, ip_network
from pathlib import Path
from types import TracebackType

from bridge import make_driver
from bridge.driver import PlugRequest, PodNetwork
from lab.network import LabNetwork, Node

SUBNET = ip_network("10.0.1.0/24")
GATEWAY = ip_address("10.0.1.1")
SERVICE_CIDR = ip_network("10.96.0.0/12")
TOOLS = Path(__file__).resolve().parent.parent / "tests" / "bpf"
PODSERVER, PODCLIENT = TOOLS / "podserver.py", TOOLS / "podclient.py"


@dataclass(frozen=True, slots=True)
class Pod:
    name: str
    netns: str
    ip: IPv4Address
    node: str
    ifname: str = "eth0"

    @property
    def path(self) -> str:
        return f"/var/run/netns/{self.netns}"


class ServiceLab:
    def __init__(self, prefix: str, *, nodes: tuple[str, ...] = ("n1", "n2"), mode: str = "macvlan") -> None:
        self.mode = mode
        self.net = LabNetwork(prefix)
        self.nodes: dict[str, Node] = {}
        self.pods: dict[str, Pod] = {}
        self._procs: list[subprocess.Popen[str]] = []
        try:
            self.net.add_switch("sw")
            self.net.add_router("gw", "sw", [(str(SUBNET), str(GATEWAY), 0)])
            for i, name in enumerate(nodes):
                self.nodes[name] = self.net.add_node(name, "sw", node_ip=f"192.168.1.{11 + i}/24")
        except BaseException:
            self.net.close()
            raise

    def __enter__(self) -> ServiceLab:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self._procs.clear()
        self.net.close()

    def pod(self, name: str, node: str, octet: int, *, mode: str | None = None) -> Pod:
        """Plug a pod with address 10.0.1.<octet> on `node` (the node's mode unless `mode`)."""
        ns = self.net.add_netns(name)
        host = self.nodes[node]
        driver = make_driver(mode or self.mode, host.parent, host_netns=host.netns)
        net = PodNetwork(SUBNET.network_address + octet, SUBNET.prefixlen, GATEWAY, 0, SERVICE_CIDR)
        driver.plug(PlugRequest(f"c-{name}", f"/var/run/netns/{ns}", "eth0", net, garp_count=0))
        pod = Pod(name, ns, IPv4Address(SUBNET.network_address + octet), node)
        self.pods[name] = pod
        return pod

    def serve(self, pod: Pod, tcp: int = 8080, udp: int = 5353) -> subprocess.Popen[str]:
        """Start podserver.py in `pod`; returns once it listens."""
        proc = self.popen(pod, [sys.executable, str(PODSERVER), pod.name, str(tcp), str(udp)])
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"podserver in {pod.name} did not start: {line!r}")
        return proc

    def popen(self, pod: Pod, argv: list[str], *, cgroup: str | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            self._argv(pod, argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_join(cgroup) if cgroup else None,  # noqa: PLW1509 (single-threaded callers)
        )
        self._procs.append(proc)
        return proc

    def run(
        self, pod: Pod, *argv: str, cgroup: str | None = None, timeout: float = 10
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` in `pod` (inside `cgroup` when given); never raises on a non-zero exit."""
        return subprocess.run(
            self._argv(pod, list(argv)),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            preexec_fn=_join(cgroup) if cgroup else None,
        )

    def probe(
        self, pod: Pod, mode: str, targets: list[str], *, cgroup: str | None = None, timeout: float = 60
    ) -> list[str]:
        """podclient.py `mode` (http / udp / udpc) from `pod` to each "ip:port"; one answer each."""
        out = subprocess.run(
            self._argv(pod, [sys.executable, str(PODCLIENT), mode]),
            input="".join(f"{t}\n" for t in targets),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            preexec_fn=_join(cgroup) if cgroup else None,
        )
        return out.stdout.splitlines()

    def _argv(self, pod: Pod, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net={pod.path}", *argv]


def _join(cgroup: str) -> Callable[[], None]:
    """A pre-exec hook putting the child into `cgroup` before it runs anything."""

    def enter() -> None:
        with open(os.path.join(cgroup, "cgroup.procs"), "w", encoding="ascii") as fh:
            fh.write(str(os.getpid()))

    return enter
