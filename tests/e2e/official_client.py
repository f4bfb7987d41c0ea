"""What the two e2e fixture sets (`apiserver_lab`, in-process server; `heldout_server`, separate
process) share: the typed core API and per-test namespaces, through the official `kubernetes`
client only. Nothing here imports `lab`, so the held-out suite may use it.

Both fixture modules re-export `core`; a test module imports it from its fixture module, which must
also provide the `api_client` fixture it depends on.
"""

from __future__ import annotations

import re
import time

import pytest
from kubernetes import client


@pytest.fixture(scope="module")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


def fresh_namespace(core: client.CoreV1Api, request: pytest.FixtureRequest, prefix: str) -> str:
    """Create a namespace named after the requesting test (DNS-1123 safe, at most 52 characters);
    `prefix` tells the suites' namespaces apart. Tests never share one, so they need no cleanup."""
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower().replace("_", "-"))[:40].strip("-")
    name = f"{prefix}-{base}-{time.monotonic_ns() % 100000}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name
