"""Fixtures for the fake API server's own tests: a server per module and official-client APIs.

The official `kubernetes` client (pinned 36.0.3) is used unmodified, configured only from the
kubeconfig the server writes, as a held-out script would.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config
from official_client import core, fresh_namespace  # noqa: F401  (core is re-exported as a fixture)

from lab.apiserver import APIServer
from lab.wait import wait_for  # noqa: F401  (re-exported to the test modules)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIServer]:
    with APIServer(bookmark_interval=0.3) as server:
        yield server


@pytest.fixture(scope="module")
def kubeconfig(api: APIServer, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return api.write_kubeconfig(tmp_path_factory.mktemp("kc") / "kubeconfig")


@pytest.fixture(scope="module")
def api_client(kubeconfig: pathlib.Path) -> client.ApiClient:
    cfg = client.Configuration()
    config.load_kube_config(str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


@pytest.fixture
def ns(core: client.CoreV1Api, request: pytest.FixtureRequest) -> str:  # noqa: F811  (core: the fixture, by name)
    """A fresh namespace per test (names from the test name, DNS-1123 safe)."""
    return fresh_namespace(core, request, "t")


def pod(
    name: str, node: str | None = None, labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "app", "image": "busybox"}], **spec},
    }
    if node:
        body["spec"]["nodeName"] = node
    return body
