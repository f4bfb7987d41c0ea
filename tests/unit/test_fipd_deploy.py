"""deploy/fipd agrees with the code: conflist, installer arguments, least privileges, RBAC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from fipd.cli import parse_args
from fipd.install import conflist

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "fipd"


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def test_conflist_is_what_the_installer_writes() -> None:
    assert json.loads((DEPLOY / "10-fip.conflist").read_text()) == conflist()


def test_daemonset_least_privileges_and_mounts() -> None:
    (ds,) = docs("daemonset.yaml")
    spec = ds["spec"]["template"]["spec"]
    (fipd,) = spec["containers"]
    sc = fipd["securityContext"]
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN", "SYS_ADMIN", "NET_RAW", "BPF"]}
    assert spec["hostNetwork"] is True
    assert "hostPID" not in spec
    mounts = {m["mountPath"]: m for m in fipd["volumeMounts"]}
    assert mounts["/var/run/netns"]["mountPropagation"] == "HostToContainer"
    assert "/run/fip" in mounts
    assert {"/sys/fs/bpf", "/lib/modules", "/usr/src"} <= set(mounts)  # ClusterIP: pins, headers
    args = parse_args([*fipd["command"][1:], "--node", "n1"])
    assert str(args.socket) == "/run/fip/fipd.sock"
    (init,) = spec["initContainers"]
    assert init["command"][:2] == ["fipd", "install-cni"]
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_rbac_is_read_only() -> None:
    role = next(d for d in docs("rbac.yaml") if d["kind"] == "ClusterRole")
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs <= {"get", "list", "watch"}
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert resources == {"pods", "nodes", "subnets", "services", "endpointslices"}
