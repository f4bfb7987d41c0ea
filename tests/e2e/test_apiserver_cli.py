"""`fip-lab apiserver` as a process: prints its URL, writes a kubeconfig the official client and
kubectl-style loaders accept, exits 0 on SIGTERM, and explains a bad --listen."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys

import pytest
import yaml
from kubernetes import client, config

pytestmark = pytest.mark.e2e
FIP_LAB = pathlib.Path(sys.executable).with_name("fip-lab")


def test_cli_serves_until_sigterm(tmp_path: pathlib.Path) -> None:
    kc = tmp_path / "kc"
    proc = subprocess.Popen(
        [str(FIP_LAB), "apiserver", "--listen", "127.0.0.1:0", "--kubeconfig-out", str(kc)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        doc = yaml.safe_load(kc.read_text())
        assert doc["current-context"] and doc["clusters"][0]["cluster"]["server"] == url
        assert oct(kc.stat().st_mode & 0o777) == "0o600"
        cfg = client.Configuration()
        config.load_kube_config(str(kc), client_configuration=cfg)
        core = client.CoreV1Api(client.ApiClient(cfg))
        names = [n.metadata.name for n in core.list_namespace().items]
        assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
        crds = client.ApiextensionsV1Api(client.ApiClient(cfg)).list_custom_resource_definition()
        assert {"subnets.fip.io", "pools.fip.io"} <= {c.metadata.name for c in crds.items}
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=10)
    assert code == 0


def test_cli_bad_listen_is_explained() -> None:
    out = subprocess.run(
        [str(FIP_LAB), "apiserver", "--listen", "nonsense"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 2 and "HOST:PORT" in out.stderr and "Traceback" not in out.stderr
