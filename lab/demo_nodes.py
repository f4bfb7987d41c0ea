"""The demo's nodes: a small lab network with a real fipd per node and the installed fip-cni.

    with node_lab(prefix, workdir, kubeconfig, redis_url) as lab:
        lab.net                      # lab.network.LabNetwork: switch "sw", router, nodes, legacy host
        lab.daemons["node-a"]        # the node's fipd (subprocess) and its installed plugin
        lab.cni("node-a", "ADD", pod_name, pod_uid, sandbox_netns)   # as containerd runs it

Topology (dc1-a of examples/subnets.yaml, untagged): switch `sw`; router `gw` with the subnet's
gateway 192.0.2.1/24 and 192.168.11.1/24 on the node network; nodes `node-a` (fipd in bridge
mode) and `node-b` (macvlan), uplink eth1 with their InternalIPs; legacy host `legacy` at
192.0.2.100 (the address the example subnet excludes for it), default route via the gateway.

Each fipd runs from the root namespace with `--host-netns` (as in tests/privileged/
test_fipd_cni.py), its own socket, state dir and log under `workdir`, in its own session so a
Ctrl-C reaches only the demo, which stops it by PID. Exiting the context stops every fipd, then
deletes every namespace (also after an exception or Ctrl-C).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge import netlink
from bridge.netlink import Netlink
from lab.demo_cluster import NODE_IPS, NS
from lab.demo_console import DemoCheckFailed, checkpoint
from lab.network import LabNetwork

BIN = Path(sys.executable).parent
MODES = {"node-a": "bridge", "node-b": "macvlan"}
GATEWAY = "192.0.2.1"
LEGACY_IP = "192.0.2.100"


@dataclass
class NodeDaemon:
    node: str
    mode: str
    netns: str
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    conf: dict[str, Any] = field(default_factory=dict)

    @property
    def socket(self) -> Path:
        return self.root / "fipd.sock"

    @property
    def plugin(self) -> Path:
        return self.root / "bin" / "fip-cni"

    def log_tail(self) -> str:
        with suppress(OSError):
            return "\n".join((self.root / "fipd.log").read_text(errors="replace").splitlines()[-12:])
        return ""

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM (if `terminate` did not already), wait up to 5 s, then SIGKILL; only our PID."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


@dataclass
class NodeLab:
    net: LabNetwork
    daemons: dict[str, NodeDaemon]

    def cni(self, node: str, command: str, pod: str, uid: str, sandbox: str) -> tuple[int, dict[str, Any]]:
        """Run `node`'s installed fip-cni with the environment and stdin containerd gives it."""
        d = self.daemons[node]
        cid = f"{pod}-{uid[:8]}"
        env = {
            "CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": f"/var/run/netns/{sandbox}",
            "CNI_IFNAME": "eth0", "CNI_PATH": str(d.plugin.parent), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={NS};K8S_POD_NAME={pod};"
            f"K8S_POD_INFRA_CONTAINER_ID={cid};K8S_POD_UID={uid}",
        }  # fmt: skip
        run = subprocess.run(
            [str(d.plugin)],
            input=json.dumps(d.conf),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        try:
            answer = json.loads(run.stdout) if run.stdout.strip() else {}
        except ValueError:
            answer = {"msg": run.stdout[:500]}
        return run.returncode, answer

    def links(self, netns: str) -> list[str]:
        with Netlink(netns) as nl:
            return sorted(lk.name for lk in nl.links())


def _build(net: LabNetwork) -> None:
    net.add_switch("sw")
    net.add_router("gw", "sw", [("192.0.2.0/24", GATEWAY, 0), ("192.168.11.0/24", "192.168.11.1", 0)])
    for node, ip in NODE_IPS.items():
        net.add_node(node, "sw", node_ip=f"{ip}/24")
    net.add_legacy_host("legacy", "sw", f"{LEGACY_IP}/24", gateway=GATEWAY)


def _install(d: NodeDaemon) -> None:
    """`fipd install-cni` into the node's own bin and conf dirs (the DaemonSet's init container)."""
    argv = [str(BIN / "fipd"), "install-cni", "--bin-dir", str(d.root / "bin"), "--conf-dir",
            str(d.root / "net.d"), "--socket", str(d.socket)]  # fmt: skip
    run = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if run.returncode != 0:
        raise DemoCheckFailed(f"fipd install-cni for {d.node} failed: {run.stderr.strip()}")
    conflist = json.loads((d.root / "net.d" / "10-fip.conflist").read_text())
    # containerd hands each plugin its entry with the list's cniVersion and name added
    d.conf = {"cniVersion": conflist["cniVersion"], "name": conflist["name"], **conflist["plugins"][0]}


def _start(d: NodeDaemon, kubeconfig: Path, redis_url: str) -> None:
    argv = [
        str(BIN / "fipd"), "--node", d.node, "--mode", d.mode, "--parent", "eth1", "--host-netns", d.netns,
        "--kubeconfig", str(kubeconfig), "--socket", str(d.socket), "--state-dir", str(d.root / "state"),
        "--service-cidr", "10.96.0.0/12", "--annotation-timeout", "5", "--garp-sync",
    ]  # fmt: skip
    if redis_url:
        argv += ["--redis-url", redis_url]
    with (d.root / "fipd.log").open("ab") as log:
        d.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_ready(d: NodeDaemon, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not d.socket.exists():
        checkpoint()
        if d.proc is None or d.proc.poll() is not None or time.monotonic() > deadline:
            raise DemoCheckFailed(f"fipd for {d.node} did not start:\n{d.log_tail()}")
        time.sleep(0.05)


@contextmanager
def node_lab(prefix: str, workdir: Path, kubeconfig: Path, redis_url: str) -> Iterator[NodeLab]:
    try:
        with _network(prefix, workdir, kubeconfig, redis_url) as lab:
            yield lab
    finally:
        _sweep(prefix)


@contextmanager
def _network(prefix: str, workdir: Path, kubeconfig: Path, redis_url: str) -> Iterator[NodeLab]:
    with LabNetwork(prefix) as net:
        _build(net)
        daemons = {
            node: NodeDaemon(node, mode, net.nodes[node].netns, workdir / node)
            for node, mode in MODES.items()
        }
        try:
            for d in daemons.values():
                d.root.mkdir(parents=True)
                _install(d)
                _start(d, kubeconfig, redis_url)
            for d in daemons.values():
                _wait_ready(d)
            yield NodeLab(net, daemons)
        finally:
            for d in daemons.values():
                d.terminate()
            for d in daemons.values():
                d.stop()


def _sweep(prefix: str) -> None:
    """Remove namespaces of this run that LabNetwork could not record: an interrupt that lands
    between the kernel making a namespace and `add_netns` noting it would otherwise leak it."""
    for name in netlink.list_netns():
        if name.startswith(f"{prefix}-"):
            netlink.remove_netns(name)
