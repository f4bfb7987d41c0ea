"""fipd.server (socket mode, framing, stale socket) and fipd.state (atomic per-container files)."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fipd import cni
from fipd.server import CNIServer, SocketInUse
from fipd.state import ContainerState, StateDir


@pytest.fixture
def sockdir() -> Iterator[Path]:
    d = Path(f"/tmp/fipsrv-{os.getpid()}-{threading.get_ident() % 1000}")
    yield d / "fip"
    for p in sorted(d.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    if d.exists():
        d.rmdir()


def echo(env: dict[str, str], stdin: str) -> dict[str, object]:
    return {"result": {"cniVersion": "1.0.0", "echo": env.get("CNI_CONTAINERID"), "stdin": stdin}}


def ask(path: Path, payload: bytes) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    reply: dict[str, object] = json.loads(data)
    return reply


def test_socket_is_root_only_and_serves_concurrently(sockdir: Path) -> None:
    server = CNIServer(sockdir / "fipd.sock", echo)
    server.serve_in_thread()
    try:
        assert stat.S_IMODE(os.stat(sockdir / "fipd.sock").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(sockdir).st_mode) == 0o700
        replies: list[dict[str, object]] = []

        def one(i: int) -> None:
            replies.append(
                ask(
                    sockdir / "fipd.sock",
                    json.dumps({"env": {"CNI_CONTAINERID": f"c{i}"}, "stdin": "x"}).encode(),
                )
            )

        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r["result"]["echo"] for r in replies) == sorted(f"c{i}" for i in range(20))  # type: ignore[index]
        bad = ask(sockdir / "fipd.sock", b"not json")
        assert bad["error"]["code"] == 6  # type: ignore[index]
    finally:
        server.stop()
    assert not (sockdir / "fipd.sock").exists()


def test_stale_socket_is_replaced_live_one_is_not(sockdir: Path) -> None:
    sockdir.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sockdir / "fipd.sock"))
    stale.close()  # the file stays, nobody listens: a dead fipd
    first = CNIServer(sockdir / "fipd.sock", echo)
    first.serve_in_thread()
    try:
        with pytest.raises(SocketInUse, match="another fipd"):
            CNIServer(sockdir / "fipd.sock", echo).bind()
        assert ask(sockdir / "fipd.sock", b'{"env":{},"stdin":""}')["result"]
    finally:
        first.stop()


def test_plugin_talks_to_server(sockdir: Path) -> None:
    server = CNIServer(sockdir / "fipd.sock", echo)
    server.serve_in_thread()
    try:
        env = {
            "CNI_COMMAND": "ADD",
            "CNI_CONTAINERID": "abc",
            "CNI_NETNS": "/proc/self/ns/net",
            "CNI_IFNAME": "eth0",
            "CNI_PATH": "/opt/cni/bin",
            "CNI_ARGS": "K8S_POD_NAMESPACE=a;K8S_POD_NAME=b",
        }
        stdin = json.dumps(
            {"cniVersion": "1.0.0", "name": "n", "type": "fip-cni", "socket": str(sockdir / "fipd.sock")}
        )
        code, out = cni.run(env, stdin.encode())
        assert code == 0
        assert out == {"cniVersion": "1.0.0", "echo": "abc", "stdin": stdin}
    finally:
        server.stop()


def state(cid: str = "c0ffee") -> ContainerState:
    return ContainerState(
        cid, "eth0", "/var/run/netns/x", "default", "web", "u-1", "10.0.1.17", 24, "10.0.1.1", 0, "dc1-a",
        "0a:58:0a:00:01:11", "vh1", {"veth": "vh1"}, {"cniVersion": "1.0.0"}, 5.0,
    )  # fmt: skip


def test_state_round_trip_and_remove(tmp_path: Path) -> None:
    states = StateDir(tmp_path / "s")
    assert states.get("c0ffee", "eth0") is None
    states.put(state())
    assert states.get("c0ffee", "eth0") == state()
    assert stat.S_IMODE(os.stat(tmp_path / "s" / "c0ffee_eth0.json").st_mode) == 0o600
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["c0ffee_eth0.json"]  # no temp file left
    states.put(state("beef"))
    assert [s.container_id for s in states.all()] == ["beef", "c0ffee"]
    states.remove("c0ffee", "eth0")
    states.remove("c0ffee", "eth0")
    assert [s.container_id for s in states.all()] == ["beef"]


def test_state_refuses_path_names(tmp_path: Path) -> None:
    states = StateDir(tmp_path / "s")
    with pytest.raises(ValueError, match="safe file name"):
        states.get("../x", "eth0")
    with pytest.raises(ValueError, match="safe file name"):
        states.put(state(".hidden"))


def test_state_skips_broken_files(tmp_path: Path) -> None:
    states = StateDir(tmp_path / "s", fsync=True)
    states.put(state())
    (tmp_path / "s" / "junk_eth0.json").write_text("{")
    assert [s.container_id for s in states.all()] == ["c0ffee"]
    assert states.get("junk", "eth0") is None
    assert (tmp_path / "s" / "junk_eth0.broken").exists()


def test_stop_lets_requests_in_flight_finish(sockdir: Path) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(env: dict[str, str], stdin: str) -> dict[str, object]:
        started.set()
        release.wait(5)
        return {"result": None}

    server = CNIServer(sockdir / "fipd.sock", slow)
    server.serve_in_thread()
    replies: list[dict[str, object]] = []
    client = threading.Thread(
        target=lambda: replies.append(ask(sockdir / "fipd.sock", b'{"env":{},"stdin":""}'))
    )
    client.start()
    assert started.wait(5)
    threading.Timer(0.2, release.set).start()
    server.stop()  # returns only after the slow request answered
    client.join(5)
    assert replies == [{"result": None}]
