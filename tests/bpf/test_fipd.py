"""fipd with ClusterIP on: the real daemon (subprocess) plugs macvlan pods through the real
fip-cni, attaches the tc programs at ADD, keeps the maps in step with Services created through
the lab API server, and re-attaches after a restart without dropping a running download. A
node that cannot load the programs still plugs pods (ClusterIP unavailable, said in the log)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpf import tc
from bpf.loader import remove_pins
from fipd.install import install_plugin
from lab.apiserver import APIServer
from lab.topology import PodLab, single_node

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "privileged"))
from fipd_process import FipdProcess

PODSERVER = Path(__file__).resolve().parent / "podserver.py"
CGROUP2 = "/sys/fs/cgroup/unified" if os.path.ismount("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"


class Env:
    def __init__(self, lab: PodLab, api: APIServer, root: Path, pins: str) -> None:
        self.lab, self.api, self.root, self.pins = lab, api, root, pins
        self.plugin = install_plugin(root / "bin")
        self.fipd: FipdProcess | None = None
        self.procs: list[subprocess.Popen[str]] = []

    def start_fipd(self, *extra: str) -> FipdProcess:
        flags = [
            "--mode",
            "macvlan",
            "--service-cidr",
            "10.96.0.0/12",
            "--annotation-timeout",
            "2",
            "--garp-count",
            "1",
            "--bpf-pin-dir",
            self.pins,
            *extra,
        ]
        self.fipd = FipdProcess(self.root, self.root / "kubeconfig", self.lab.node.netns, flags)
        self.fipd.start()
        return self.fipd

    def stop_fipd(self) -> None:
        if self.fipd is not None and self.fipd.proc is not None and self.fipd.proc.poll() is None:
            self.fipd.proc.send_signal(signal.SIGTERM)
            self.fipd.proc.wait(timeout=20)
        if self.fipd is not None:
            self.fipd.socket.unlink(missing_ok=True)

    def pod(self, name: str, ip: str) -> str:
        alloc = {
            "ip": ip,
            "vlan": 0,
            "subnet": "dc1-a",
            "prefix": 24,
            "gateway": "10.0.1.1",
            "owner": f"default/Pod/{name}",
        }
        meta = {"name": name, "namespace": "default", "annotations": {"fip.io/allocation": json.dumps(alloc)}}
        spec = {
            "nodeName": "n1",
            "containers": [{"name": "c", "image": "pause", "resources": {"limits": {"fip.io/ip": "1"}}}],
        }
        uid = self.api.storage.create("pods", {"metadata": meta, "spec": spec})["metadata"]["uid"]
        netns = self.lab.net.add_netns(name)
        assert self.cni("ADD", name, str(uid), netns)[0] == 0
        return netns

    def cni(self, command: str, name: str, uid: str, netns: str) -> tuple[int, Any]:
        assert self.fipd is not None
        env = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": f"{name}-sandbox",
            "CNI_NETNS": f"/var/run/netns/{netns}",
            "CNI_IFNAME": "eth0",
            "CNI_PATH": str(self.plugin.parent),
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={name};K8S_POD_UID={uid}",
            "PATH": "/usr/bin:/bin",
        }
        conf = {"cniVersion": "1.0.0", "name": "fip", "type": "fip-cni", "socket": str(self.fipd.socket)}
        run = subprocess.run(
            [str(self.plugin)],
            input=json.dumps(conf),
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return run.returncode, json.loads(run.stdout) if run.stdout.strip() else None

    def run(self, netns: str, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["nsenter", f"--net=/var/run/netns/{netns}", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(self, netns: str, *argv: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ["nsenter", f"--net=/var/run/netns/{netns}", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc


@pytest.fixture
def env() -> Iterator[Env]:
    root = Path(f"/tmp/fiptest-bpf-fipd-{uuid.uuid4().hex[:6]}")
    root.mkdir()
    pins = f"/sys/fs/bpf/fip-test-{secrets.token_hex(4)}"
    gen = iter(single_node("macvlan", str(root / "sys")))
    lab = next(gen)
    api = APIServer(port=0).start()
    built = Env(lab, api, root, pins)
    try:
        api.write_kubeconfig(root / "kubeconfig")
        api.storage.create("nodes", {"metadata": {"name": "n1", "labels": {"fip.io/l2": "a"}}})
        spec = {
            "cidr": "10.0.1.0/24",
            "gateway": "10.0.1.1",
            "vlan": 0,
            "nodeSelector": {"matchLabels": {"fip.io/l2": "a"}},
        }
        api.storage.create(
            "subnets",
            {"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": "dc1-a"}, "spec": spec},
        )
        yield built
    finally:
        for proc in built.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        built.stop_fipd()
        api.stop()
        next(gen, None)
        remove_pins(pins)
        shutil.rmtree(root, ignore_errors=True)


def web_service(api: APIServer) -> None:
    api.storage.create(
        "services",
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "clusterIP": "10.96.0.10",
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        },
    )
    api.storage.create(
        "endpointslices",
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "web-1",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "web"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.1.18"], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        },
    )


def get(env: Env, netns: str, url: str) -> str:
    out = env.run(netns, "curl", "-sS", "--max-time", "2", url)
    return out.stdout if out.returncode == 0 else f"ERR {out.stderr.strip()}"


def test_fipd_attaches_at_add_syncs_services_and_survives_a_restart(env: Env) -> None:
    fipd = env.start_fipd()
    client, web = env.pod("client", "10.0.1.17"), env.pod("web", "10.0.1.18")
    assert tc.attached(f"/var/run/netns/{client}", "eth0")
    server = env.popen(web, sys.executable, str(PODSERVER), "web", "8080", "5353")
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    web_service(env.api)
    deadline = time.monotonic() + 10  # fipd syncs within ~0.1 s; the rest is slack for a loaded machine
    while get(env, client, "http://10.96.0.10/") != "web":
        assert time.monotonic() < deadline, get(env, client, "http://10.96.0.10/")
        time.sleep(0.05)
    size = 16 * 1024 * 1024
    download = env.popen(
        client,
        "curl",
        "-sS",
        "--max-time",
        "30",
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        f"http://10.96.0.10/big/{size}?rate=4000000",
    )
    time.sleep(0.5)
    env.stop_fipd()  # restart: the new fipd compiles again and swaps its programs in
    env.start_fipd()
    assert get(env, client, "http://10.96.0.10/") == "web"
    out, err = download.communicate(timeout=30)
    assert download.returncode == 0 and int(out) == size, err
    log = fipd.log.read_text()
    assert "ClusterIP tc mode ready" in log and "ClusterIP restored for 2 plugged pod(s)" in log


def test_a_node_that_cannot_load_the_programs_still_plugs_pods(env: Env) -> None:
    env.pins = str(env.root / "not-bpffs")  # bcc cannot pin maps outside bpffs
    fipd = env.start_fipd()
    client = env.pod("client", "10.0.1.17")
    assert not tc.attached(f"/var/run/netns/{client}", "eth0")
    assert env.run(client, "ping", "-c", "1", "-W", "1", "10.0.1.1").returncode == 0
    log = fipd.log.read_text()
    assert "ClusterIP unavailable on this node" in log
    assert "pod default/client: ClusterIP unavailable for this pod" in log


def test_socket_mode_per_node(env: Env) -> None:
    cgroup = os.path.join(CGROUP2, f"fip-test-{secrets.token_hex(4)}")
    os.mkdir(cgroup)
    try:
        fipd = env.start_fipd("--clusterip", "socket", "--bpf-cgroup", cgroup)
        client, web = env.pod("client", "10.0.1.17"), env.pod("web", "10.0.1.18")
        assert not tc.attached(f"/var/run/netns/{client}", "eth0")  # no per-packet programs
        server = env.popen(web, sys.executable, str(PODSERVER), "web", "8080", "5353")
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        web_service(env.api)

        def in_cgroup() -> str:
            script = f"echo $$ > {cgroup}/cgroup.procs && exec curl -sS --max-time 2 http://10.96.0.10/"
            out = env.run(client, "sh", "-c", script)
            return out.stdout if out.returncode == 0 else f"ERR {out.stderr.strip()}"

        deadline = time.monotonic() + 10  # fipd syncs within ~0.1 s; the rest is slack for a loaded machine
        while in_cgroup() != "web":
            assert time.monotonic() < deadline, in_cgroup()
            time.sleep(0.05)
        assert "ClusterIP socket mode ready" in fipd.log.read_text()
        assert len(pinned_pods(env.pins)) == 2
        uid = env.api.storage.get("pods", "client", "default")["metadata"]["uid"]
        assert env.cni("DEL", "client", str(uid), client)[0] == 0
        assert len(pinned_pods(env.pins)) == 1
    finally:
        env.stop_fipd()
        for kind in ("connect4", "sendmsg4", "recvmsg4", "getpeername4"):
            pin = f"{env.pins}/prog_{kind}_{cgroup.strip('/').replace('/', '_')}"
            subprocess.run(
                ["bpftool", "cgroup", "detach", cgroup, kind, "pinned", pin], check=False, capture_output=True
            )
        os.rmdir(cgroup)


def pinned_pods(pins: str) -> list[Any]:
    out = subprocess.run(
        ["bpftool", "-j", "map", "dump", "pinned", f"{pins}/pods"], capture_output=True, text=True, check=True
    )
    return list(json.loads(out.stdout))
