"""deploy/ is one `kubectl apply -k deploy/`, and every object in it is valid Kubernetes 1.37.

The kustomization is built offline with the pinned kubectl's kustomize (no cluster needed) and
each object is validated strictly (unknown fields are errors) against the schemas that
kubernetes-validate ships for 1.37. Also: every manifest under deploy/ is part of the
kustomization (none forgotten), the workloads refer to the Secret and ConfigMap it generates,
and the scheduler configuration in the ConfigMap is deploy/kube-scheduler's file as the lab
scheduler loads it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from lab.scheduler import config as sched_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBECTL = Path(sys.executable).with_name("kubectl")
VERSION = "1.37.0"


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    argv = [str(KUBECTL), "kustomize", str(DEPLOY)]
    built = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    return [d for d in yaml.safe_load_all(built.stdout) if d]


def test_every_object_validates_against_the_kubernetes_schemas(objects: list[dict[str, Any]]) -> None:
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {err.message} at {list(err.path)}")
    assert not errors, "\n".join(errors)


def test_the_kustomization_covers_every_manifest_and_the_three_workloads(
    objects: list[dict[str, Any]],
) -> None:
    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    manifests = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*.yaml")}
    not_objects = {"kustomization.yaml", "kube-scheduler/scheduler-config.yaml"}  # generated into a ConfigMap
    assert manifests - not_objects == listed
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {("CustomResourceDefinition", "subnets.fip.io"), ("CustomResourceDefinition", "pools.fip.io"),
            ("StatefulSet", "fip-redis"), ("DaemonSet", "fipd"), ("ConfigMap", "fip-scheduler-config"),
            ("Secret", "fip-redis")} <= kinds  # fmt: skip
    deployments = {n for k, n in kinds if k == "Deployment"}
    assert len(deployments) == 2, deployments  # the extender and the controllers


def test_the_workloads_find_the_generated_secret(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"] not in ("Deployment", "DaemonSet", "StatefulSet"):
            continue
        for c in obj["spec"]["template"]["spec"]["containers"]:
            for env in c.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "fip-redis" and ref["key"] == "url", (obj["metadata"]["name"], ref)


def test_the_scheduler_configmap_holds_a_configuration_the_scheduler_accepts(
    objects: list[dict[str, Any]],
) -> None:
    cm = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "fip-scheduler-config"
    )
    text = cm["data"]["scheduler-config.yaml"]
    assert text == (DEPLOY / "kube-scheduler" / "scheduler-config.yaml").read_text()
    cfg = sched_config.parse(yaml.safe_load(text))
    assert [(e.bind_verb, e.filter_verb) for e in cfg.extenders] == [("bind", "filter")]
