"""fipd stops promptly on SIGTERM whatever the API server does: up, stopped in-process (its open
keep-alive connections still answer and end every watch at once), killed, or frozen (SIGSTOP:
connections accepted, nothing answered) — and a CNI request in flight that waits on the API
server is answered with code 11 at once instead of holding the exit (see fipd.stopping; that
requests doing datapath work are let finish is tests/unit/test_fipd_server.py's).

fipd runs as in tests/privileged/test_fipd_cni.py (a subprocess from the root namespace with
--host-netns, `lab.topology.single_node` in bridge mode); each test starts its own API server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fipd_process import FipdProcess

from lab.apiserver import APIServer
from lab.topology import PodLab, single_node

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
        reason="needs root (network namespaces)",
    ),
]

BIN = Path(sys.executable).parent
PROMPT = 5.0  # seconds from SIGTERM to exit that count as prompt
TICKS = os.sysconf("SC_CLK_TCK")


class Fipd(FipdProcess):
    def __init__(self, root: Path, kubeconfig: Path, node_netns: str) -> None:
        flags = ["--mode", "bridge", "--annotation-timeout", "2", "--garp-count", "0"]
        super().__init__(root, kubeconfig, node_netns, flags)

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime

    def terminate_and_wait(self) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took). Fails (after a SIGKILL) if it does not exit."""
        assert self.proc is not None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=PROMPT * 3)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR1)  # faulthandler: every thread's stack to the log
            time.sleep(0.5)
            self.kill()
            raise AssertionError(
                f"fipd ignored SIGTERM; its stacks:\n{self.log.read_text()[-6000:]}"
            ) from None
        return code, time.monotonic() - t0

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def node() -> Iterator[PodLab]:
    gen = iter(single_node("bridge", f"/tmp/fiptest-sd-{uuid.uuid4().hex[:6]}-sys"))
    env = next(gen)
    try:
        yield env
    finally:
        next(gen, None)


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(f"/tmp/fiptest-sd-{uuid.uuid4().hex[:6]}")
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def api() -> Iterator[APIServer]:
    server = APIServer(port=0).start()
    server.storage.create("nodes", {"metadata": {"name": "n1", "labels": {"fip.io/l2": "a"}}})
    yield server
    server.stop()  # idempotent: a test may have stopped it already


@pytest.fixture
def fipd(node: PodLab, root: Path, api: APIServer) -> Iterator[Fipd]:
    daemon = Fipd(root, api.write_kubeconfig(root / "kubeconfig"), node.node.netns)
    daemon.start()
    deadline = time.monotonic() + 10
    while not api.open_watches:  # the pod cache's watch is established
        assert time.monotonic() < deadline, "fipd's pod cache never watched"
        time.sleep(0.05)
    yield daemon
    daemon.kill()


def standalone_apiserver(root: Path) -> subprocess.Popen[str]:
    kubeconfig = root / "kubeconfig"
    proc = subprocess.Popen(
        [str(BIN / "fip-lab"), "apiserver", "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("http://")
    return proc


def assert_clean_stop(daemon: Fipd) -> None:
    code, took = daemon.terminate_and_wait()
    assert code == 0, daemon.log.read_text()[-3000:]
    assert took < PROMPT, f"fipd took {took:.1f} s to stop"
    assert not daemon.socket.exists()
    assert "fipd stopped" in daemon.log.read_text()


def test_sigterm_with_api_server_up_exits_promptly(fipd: Fipd) -> None:
    assert_clean_stop(fipd)


def test_sigterm_after_in_process_api_server_stopped(fipd: Fipd, api: APIServer) -> None:
    api.stop()
    time.sleep(0.5)
    before = fipd.cpu_seconds()
    time.sleep(2.0)
    busy = fipd.cpu_seconds() - before
    assert busy < 0.5, f"fipd used {busy:.2f} s of CPU in 2 s with the API server gone (a watch busy loop)"
    assert_clean_stop(fipd)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "frozen"])
def test_sigterm_after_standalone_api_server_went_away(node: PodLab, root: Path, how: signal.Signals) -> None:
    server = standalone_apiserver(root)
    daemon = Fipd(root, root / "kubeconfig", node.node.netns)
    try:
        daemon.start()
        time.sleep(1.0)  # the pod cache lists and watches
        server.send_signal(how)
        time.sleep(1.0)
        assert_clean_stop(daemon)
    finally:
        daemon.kill()
        server.kill()
        server.send_signal(signal.SIGCONT)
        server.wait()


def cni_add(sock: Path, pod: str, uid: str, netns: str) -> dict[str, Any]:
    env = {
        "CNI_COMMAND": "ADD", "CNI_CONTAINERID": f"{pod}-sandbox", "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
        "CNI_PATH": "/usr/lib/cni",
        "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={pod};K8S_POD_UID={uid}",
    }  # fmt: skip
    stdin = json.dumps({"cniVersion": "1.0.0", "name": "fip", "type": "fip-cni"})
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(30)
        conn.connect(str(sock))
        conn.sendall(json.dumps({"env": env, "stdin": stdin}).encode())
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    reply: dict[str, Any] = json.loads(b"".join(chunks))
    return reply


def test_add_waiting_for_its_annotation_is_answered_at_sigterm(
    node: PodLab, fipd: Fipd, api: APIServer
) -> None:
    """An ADD still waiting for fip.io/allocation (up to 2 s, --annotation-timeout) when SIGTERM
    comes is answered at once with code 11 (the runtime retries it against the next fipd)."""
    spec = {"nodeName": "n1", "containers": [{"name": "c", "image": "pause",
                                              "resources": {"limits": {"fip.io/ip": "1"}}}]}  # fmt: skip
    pod = api.storage.create("pods", {"metadata": {"name": "waits", "namespace": "default"}, "spec": spec})
    netns = node.net.add_netns("waits")
    replies: list[dict[str, Any]] = []
    client = threading.Thread(
        target=lambda: replies.append(
            cni_add(fipd.socket, "waits", pod["metadata"]["uid"], f"/var/run/netns/{netns}")
        )
    )
    client.start()
    time.sleep(0.5)
    code, took = fipd.terminate_and_wait()
    client.join(timeout=10)
    assert code == 0
    assert took < 1.5, f"fipd took {took:.1f} s to stop"
    assert replies and replies[0]["error"]["code"] == 11, replies
    assert "fipd is stopping" in replies[0]["error"]["details"], replies


def test_request_waiting_on_a_frozen_api_server_ends_at_sigterm(
    node: PodLab, fipd: Fipd, api: APIServer
) -> None:
    """An ADD blocked on an API server that accepts but never answers (paused) does not hold the
    exit for the whole drain time: at SIGTERM it ends with code 11 (the runtime retries it), and
    fipd exits 0 within a few seconds."""
    spec = {"nodeName": "n1", "containers": [{"name": "c", "image": "pause",
                                              "resources": {"limits": {"fip.io/ip": "1"}}}]}  # fmt: skip
    pod = api.storage.create("pods", {"metadata": {"name": "stuck", "namespace": "default"}, "spec": spec})
    netns = node.net.add_netns("stuck")
    api.control.pause()
    replies: list[dict[str, Any]] = []
    client = threading.Thread(
        target=lambda: replies.append(
            cni_add(fipd.socket, "stuck", pod["metadata"]["uid"], f"/var/run/netns/{netns}")
        )
    )
    client.start()
    time.sleep(1.0)
    assert not replies, "the ADD should still be waiting for the paused API server"
    code, took = fipd.terminate_and_wait()
    client.join(timeout=10)
    assert code == 0, fipd.log.read_text()[-3000:]
    assert took < PROMPT, f"fipd took {took:.1f} s to stop"
    assert replies and replies[0]["error"]["code"] == 11, replies
