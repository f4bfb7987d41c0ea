"""fip-extender with --tls-cert/--tls-key/--client-ca: mutual TLS as kube-scheduler's
`tlsConfig` (caFile, certFile, keyFile) speaks it. Certificates are made with openssl in a
temporary directory."""

from __future__ import annotations

import pathlib
import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest
from extender_lab import Lab, lab, scheduler_config, subnet_yaml
from test_extender_lab import bare_pod, bound

from fip.kube.resources import PODS
from lab.scheduler.config import parse
from lab.scheduler.scheduler import Scheduler

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _openssl(*args: str, cwd: pathlib.Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(d: pathlib.Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=d)  # fmt: skip


def _leaf(d: pathlib.Path, name: str, ca: str, ext: str) -> None:
    (d / f"{name}.ext").write_text(ext)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", cwd=d)  # fmt: skip
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
             cwd=d)  # fmt: skip


@pytest.fixture
def certs(tmp_path: pathlib.Path) -> pathlib.Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    _ca(tmp_path, "ca")
    _ca(tmp_path, "other-ca")
    _leaf(
        tmp_path, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    _leaf(tmp_path, "scheduler", "ca", "extendedKeyUsage=clientAuth\n")
    _leaf(tmp_path, "intruder", "other-ca", "extendedKeyUsage=clientAuth\n")
    return tmp_path


@pytest.fixture
def world() -> Iterator[Lab]:
    with lab() as w:
        yield w


def _get(url: str, d: pathlib.Path, client: str | None) -> int:
    ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
    if client:
        ctx.load_cert_chain(str(d / f"{client}.crt"), str(d / f"{client}.key"))
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        return int(resp.status)


def test_mutual_tls(world: Lab, certs: pathlib.Path) -> None:
    world.apply(subnet_yaml("dc-a", 1))
    world.add_node("a-n0", **{"fip.io/l2": "dc-a"})
    ext = world.start_extender(
        extra=("--tls-cert", str(certs / "server.crt"), "--tls-key", str(certs / "server.key"),
               "--client-ca", str(certs / "ca.crt")),
        ready=False,
    )  # fmt: skip
    https = ext.url.replace("http://", "https://")
    ext.wait_ready(probe=lambda: _get(https + "/readyz", certs, "scheduler") == 200)
    assert _get(https + "/healthz", certs, "scheduler") == 200
    for client in (None, "intruder"):
        with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
            _get(https + "/healthz", certs, client)
    # plain HTTP on the TLS port is refused too
    with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
        urllib.request.urlopen(ext.url + "/healthz", timeout=5).read()
    # the lab scheduler with the shipped tlsConfig shape, pointed at these files
    doc = scheduler_config(https + "/fip")
    doc["extenders"][0].update(
        enableHTTPS=True,
        tlsConfig={
            "caFile": str(certs / "ca.crt"),
            "certFile": str(certs / "scheduler.crt"),
            "keyFile": str(certs / "scheduler.key"),
        },
    )
    sched = Scheduler(world.client, parse(doc), seed=1)
    sched.start()
    world.stack.callback(sched.stop)
    world.client.create(PODS, bare_pod("secure"))
    pod = bound(world, "secure", 1)["secure"]
    assert pod["spec"]["nodeName"] == "a-n0"
