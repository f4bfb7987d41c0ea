"""Held-out-style fixtures: `fip-lab apiserver` as a separate process, reached only through the
official `kubernetes` client configured from the kubeconfig the server writes.

These tests play the acceptance checker: nothing here imports `lab` — a client script knows only
the kubeconfig. The server is started per test module on a free port and stopped by its PID.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from official_client import core, fresh_namespace  # noqa: F401  (core is re-exported as a fixture)

FIP_LAB = pathlib.Path(sys.executable).with_name("fip-lab")


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    work = tmp_path_factory.mktemp("heldout")
    path = work / "kubeconfig"
    # output goes to files, not pipes: a pipe nobody drains would block the server once full
    with (work / "stdout").open("w") as out, (work / "stderr").open("w") as err:
        proc = subprocess.Popen(
            [str(FIP_LAB), "apiserver", "--listen", "127.0.0.1:0", "--kubeconfig-out", str(path)],
            stdout=out,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 20
        while not (work / "stdout").read_text().startswith("http://"):  # printed once the kubeconfig exists
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fip-lab apiserver did not start: {(work / 'stderr').read_text()}")
            time.sleep(0.05)
        assert path.exists()
        yield path
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def api_client(kubeconfig: pathlib.Path) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    config.load_kube_config(str(kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        yield api


@pytest.fixture(scope="module")
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture(scope="module")
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def ns(core: client.CoreV1Api, request: pytest.FixtureRequest) -> str:  # noqa: F811  (core: the fixture, by name)
    """A fresh namespace per test, named after the test (DNS-1123 safe)."""
    return fresh_namespace(core, request, "h")


def pod_body(name: str, labels: dict[str, str] | None = None, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
    }


def status_body(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def binding(name: str, node: str, uid: str | None = None, **annotations: str) -> dict[str, Any]:
    """A v1 Binding body shaped as kube-scheduler's default binder (and an extender) sends it."""
    meta: dict[str, Any] = {"name": name, "annotations": annotations}
    if uid:
        meta["uid"] = uid
    return {"apiVersion": "v1", "kind": "Binding", "metadata": meta, "target": {"kind": "Node", "name": node}}


def gone(read: Any, *args: Any) -> bool:
    """True once `read(*args)` answers 404 (the object no longer exists)."""
    try:
        read(*args)
    except ApiException as e:
        return e.status == 404
    return False
