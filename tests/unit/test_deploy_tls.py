"""deploy/tls/make-extender-certs.sh makes what the extender's Secret and kube-scheduler's
tlsConfig need: a real mutual-TLS handshake (Python's ssl, over a socket pair) succeeds with
the server name kube-scheduler checks, and fails for a client without a certificate; the
script refuses to overwrite keys."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import cast

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "tls" / "make-extender-certs.sh"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert shutil.which("openssl"), "openssl is needed (scripts/setup.sh installs it)"
    out = tmp_path_factory.mktemp("tls") / "certs"
    subprocess.run(["sh", str(SCRIPT), str(out), "2"], check=True, capture_output=True, timeout=120)
    return out


def server_name() -> str:
    cfg = yaml.safe_load((REPO / "deploy" / "kube-scheduler" / "scheduler-config.yaml").read_text())
    (ext,) = cfg["extenders"]
    return str(ext["tlsConfig"]["serverName"])


def handshake(d: Path, client_cert: str | None) -> str:
    """Serve with the extender's files, connect as kube-scheduler; the peer's CN or an error."""
    srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.load_cert_chain(d / "tls.crt", d / "tls.key")
    srv.load_verify_locations(d / "ca.crt")  # --client-ca
    srv.verify_mode = ssl.CERT_REQUIRED
    cli = ssl.create_default_context(cafile=str(d / "ca.crt"))  # tlsConfig.caFile
    if client_cert:
        cli.load_cert_chain(d / f"{client_cert}.crt", d / f"{client_cert}.key")
    a, b = socket.socketpair()
    seen: list[str] = []

    def serve() -> None:
        try:
            with srv.wrap_socket(a, server_side=True) as s:
                peer = s.getpeercert() or {}
                rdns = cast(tuple[tuple[tuple[str, str], ...], ...], peer.get("subject", ()))
                seen.append(next(v for rdn in rdns for k, v in rdn if k == "commonName"))
                s.sendall(b"ok")
        except (ssl.SSLError, OSError) as err:
            seen.append(f"refused: {err}")

    t = threading.Thread(target=serve)
    t.start()
    try:
        with cli.wrap_socket(b, server_hostname=server_name()) as c:
            c.recv(2)
    except (ssl.SSLError, OSError):
        pass
    finally:
        t.join(10)
    return seen[0]


def test_kube_scheduler_and_the_probe_get_through(certs: Path) -> None:
    d = certs
    assert {p.name for p in d.iterdir()} == {
        "ca.crt", "ca.key", "tls.crt", "tls.key", "probe.crt", "probe.key", "client.crt", "client.key",
    }  # fmt: skip
    assert handshake(d, "client") == "kube-scheduler"
    assert handshake(d, "probe") == "fip-extender-probe"
    assert handshake(d, None).startswith("refused")
    assert (d / "tls.key").stat().st_mode & 0o077 == 0


def test_keys_are_never_overwritten(certs: Path) -> None:
    d = certs
    before = (d / "ca.key").read_bytes()
    again = subprocess.run(
        ["sh", str(SCRIPT), str(d)], capture_output=True, text=True, timeout=60, check=False
    )
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    assert (d / "ca.key").read_bytes() == before


@pytest.mark.parametrize("path", ["tls.crt", "client.crt"])
def test_certificates_carry_their_purpose(certs: Path, path: str) -> None:
    d = certs
    purpose = "sslserver" if path == "tls.crt" else "sslclient"
    out = subprocess.run(
        ["openssl", "verify", "-CAfile", str(d / "ca.crt"), "-purpose", purpose, str(d / path)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
