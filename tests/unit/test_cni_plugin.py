"""fip-cni (fipd.cni + the single-file build of fipd.install): forwarding, errors, start cost."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fipd import cni
from fipd.install import conflist, install_plugin, render_plugin

ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=u-1"


def env(command: str = "ADD") -> dict[str, str]:
    return {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": "3f2a9c0d1e",
        "CNI_NETNS": "/proc/self/ns/net",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/opt/cni/bin",
        "CNI_ARGS": ARGS,
        "PATH": "/usr/bin:/bin",
    }


def conf(sock: Path, version: str = "1.0.0") -> bytes:
    return json.dumps({"cniVersion": version, "name": "fip", "type": "fip-cni", "socket": str(sock)}).encode()


class FakeFipd:
    """A unix socket that records each request and answers `reply` (bytes)."""

    def __init__(self, path: Path, reply: bytes) -> None:
        self.path = path
        self.reply = reply
        self.requests: list[dict[str, object]] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                self.requests.append(json.loads(data))
                conn.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def sockdir(tmp_path: Path) -> Iterator[Path]:
    # AF_UNIX paths are limited to 108 bytes; pytest's tmp_path can be long.
    short = Path(f"/tmp/fipcni-{os.getpid()}-{id(tmp_path) % 10000}")
    short.mkdir(exist_ok=True)
    yield short
    for p in short.iterdir():
        p.unlink()
    short.rmdir()


@pytest.fixture
def fake(sockdir: Path) -> Iterator[FakeFipd]:
    result = {"cniVersion": "1.0.0", "ips": [{"address": "10.0.1.17/24"}]}
    server = FakeFipd(sockdir / "fipd.sock", json.dumps({"result": result}).encode())
    yield server
    server.close()


def test_fipd_absent_is_code_11_with_what_to_check(sockdir: Path) -> None:
    code, out = cni.run(env(), conf(sockdir / "missing.sock"))
    assert code == 1
    assert isinstance(out, dict)
    assert out["code"] == 11
    assert "fipd is not running" in str(out["msg"])
    assert str(sockdir / "missing.sock") in str(out["details"])
    assert "DaemonSet" in str(out["details"])


def test_add_forwards_env_and_stdin_and_prints_result(fake: FakeFipd) -> None:
    stdin = conf(fake.path)
    code, out = cni.run(env(), stdin)
    assert code == 0
    assert out == {"cniVersion": "1.0.0", "ips": [{"address": "10.0.1.17/24"}]}
    sent = fake.requests[0]
    assert sent["stdin"] == stdin.decode()
    assert isinstance(sent["env"], dict)
    assert sent["env"]["CNI_CONTAINERID"] == "3f2a9c0d1e"
    assert "PATH" not in sent["env"]


def test_del_prints_nothing(fake: FakeFipd) -> None:
    e = env("DEL")
    del e["CNI_NETNS"]
    assert cni.run(e, conf(fake.path)) == (0, None)


def test_error_reply_is_passed_through(sockdir: Path) -> None:
    err = {"cniVersion": "1.0.0", "code": 102, "msg": "pod default/web-0 has no annotation", "details": "x"}
    server = FakeFipd(sockdir / "e.sock", json.dumps({"error": err}).encode())
    try:
        assert cni.run(env(), conf(server.path)) == (1, err)
    finally:
        server.close()


def test_garbage_reply_is_try_again(sockdir: Path) -> None:
    server = FakeFipd(sockdir / "g.sock", b"")
    try:
        code, out = cni.run(env(), conf(server.path))
    finally:
        server.close()
    assert code == 1
    assert isinstance(out, dict) and out["code"] == 11


def test_add_with_missing_netns_is_code_3(fake: FakeFipd) -> None:
    e = env()
    e["CNI_NETNS"] = "/var/run/netns/fiptest-gone-000"
    code, out = cni.run(e, conf(fake.path))
    assert code == 1 and isinstance(out, dict) and out["code"] == 3
    assert fake.requests == []


def test_single_file_plugin(tmp_path: Path, fake: FakeFipd) -> None:
    plugin = install_plugin(tmp_path)
    assert os.access(plugin, os.X_OK)
    assert plugin.read_text().startswith("#!/usr/bin/python3 -IS\n")
    assert "import fipd" not in plugin.read_text() and "from fipd." not in plugin.read_text()
    version = subprocess.run(
        [plugin], input=b"{}", env={"CNI_COMMAND": "VERSION"}, capture_output=True, check=False
    )
    assert version.returncode == 0
    assert json.loads(version.stdout)["supportedVersions"] == ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]
    add = subprocess.run([plugin], input=conf(fake.path), env=env(), capture_output=True, check=False)
    assert add.returncode == 0, add.stderr
    assert json.loads(add.stdout)["ips"][0]["address"] == "10.0.1.17/24"
    bad = subprocess.run([plugin], input=b"{", env=env(), capture_output=True, check=False)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["code"] == 6
    assert bad.stderr == b""


def test_single_file_plugin_imports_no_slow_modules(tmp_path: Path, fake: FakeFipd) -> None:
    """The start-up budget: no json/re/enum/socket/dataclasses/typing wrappers (see cnispec)."""
    plugin = install_plugin(tmp_path)
    run = subprocess.run(
        ["/usr/bin/python3", "-IS", "-X", "importtime", str(plugin)],
        input=conf(fake.path),
        env=env(),
        capture_output=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.decode().splitlines() if "|" in line}
    assert not imported & {"json", "re", "enum", "socket", "dataclasses", "typing", "inspect"}, imported


def test_render_is_deterministic_and_conflist_names_the_plugin() -> None:
    assert render_plugin() == render_plugin()
    cl = conflist(socket="/run/fip/fipd.sock")
    assert cl["cniVersion"] == "1.0.0"
    assert cl["plugins"] == [{"type": "fip-cni", "socket": "/run/fip/fipd.sock", "timeout": 60}]


def test_source_fallback_for_another_python_version(tmp_path: Path, fake: FakeFipd) -> None:
    """On a node whose python3 is another version the embedded source runs instead of the
    marshalled code object."""
    text = render_plugin().replace(f"== {sys.implementation.cache_tag!r}", "== 'cpython-0'", 1)
    assert "'cpython-0'" in text
    plugin = tmp_path / "fip-cni"
    plugin.write_text(text)
    plugin.chmod(0o755)
    add = subprocess.run([plugin], input=conf(fake.path), env=env(), capture_output=True, check=False)
    assert add.returncode == 0, add.stderr
    assert json.loads(add.stdout)["ips"][0]["address"] == "10.0.1.17/24"


def test_install_cni_command(tmp_path: Path) -> None:
    from fipd.install import main

    rc = main(
        ["--bin-dir", str(tmp_path / "bin"), "--conf-dir", str(tmp_path / "net.d"), "--socket", "/run/x.sock"]
    )
    assert rc == 0
    assert os.access(tmp_path / "bin" / "fip-cni", os.X_OK)
    conf = json.loads((tmp_path / "net.d" / "10-fip.conflist").read_text())
    assert conf["plugins"][0]["socket"] == "/run/x.sock"
    assert sorted(p.name for p in (tmp_path / "bin").iterdir()) == ["fip-cni"]  # no temp files left


@settings(max_examples=300, deadline=None)
@given(
    command=st.sampled_from(["ADD", "DEL", "CHECK", "VERSION", "", "GC"]),
    stdin=st.one_of(
        st.binary(max_size=200),
        st.fixed_dictionaries(
            {
                "cniVersion": st.sampled_from(["1.0.0", "0.4.0", "0.3.1", "2.0", ""]),
                # never the default socket: a fipd running on this machine must not get fuzz
                "socket": st.sampled_from(["/tmp/fiptest-no-such-dir/fipd.sock", "relative", ""]),
            },
            optional={
                "name": st.sampled_from(["fip", "", "a/b"]),
                "type": st.sampled_from(["fip-cni", "../x"]),
            },
        ).map(lambda d: json.dumps(d).encode()),
    ),
    cid=st.text(max_size=12),
)
def test_fuzz_plugin_always_answers_cni_json(command: str, stdin: bytes, cid: str) -> None:
    e = env(command)
    e["CNI_CONTAINERID"] = cid
    code, out = cni.run(e, stdin)
    if code == 0:
        assert command in ("VERSION", "DEL") or out is not None
        return
    assert code == 1
    assert isinstance(out, dict)
    assert set(out) == {"cniVersion", "code", "msg", "details"}
    assert out["code"] in (1, 3, 4, 5, 6, 7, 11)
