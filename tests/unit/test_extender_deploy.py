"""deploy/extender and deploy/kube-scheduler agree with the code: flags, ports, verbs, least
privileges, and the extender stanza kube-scheduler needs for fip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from scheduler_extender.cli import check_args, parser

from lab.scheduler.config import load

REPO = Path(__file__).resolve().parents[2]


def docs(path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((REPO / path).read_text()) if d]


def test_scheduler_configuration_stanza() -> None:
    cfg = load(str(REPO / "deploy/kube-scheduler/scheduler-config.yaml"))
    (ext,) = cfg.extenders
    assert ext.node_cache_capable is True
    assert ext.ignorable is False
    assert [(r.name, r.ignored_by_scheduler) for r in ext.managed_resources] == [("fip.io/ip", True)]
    assert (ext.filter_verb, ext.prioritize_verb, ext.bind_verb, ext.preempt_verb) == (
        "filter",
        "prioritize",
        "bind",
        "preempt",
    )
    assert ext.weight > 0 and 0 < ext.http_timeout <= 5
    assert ext.enable_https and {"caFile", "certFile", "keyFile"} <= set(ext.tls_config or {})
    assert ext.url_prefix == "https://fip-extender.kube-system.svc:8443/fip"
    assert "fip.io/ip" in cfg.ignored_resources


def test_deployment_runs_the_flags_the_cli_accepts() -> None:
    dep, svc, pdb = docs("deploy/extender/deployment.yaml")
    assert dep["spec"]["replicas"] == 2
    spec = dep["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert c["command"][0] == "fip-extender"
    args = parser().parse_args(c["command"][1:])
    assert (args.listen, args.prefix, args.workers) == ("0.0.0.0:8443", "/fip", 2)
    assert (args.tls_cert, args.tls_key, args.client_ca) == ("/tls/tls.crt", "/tls/tls.key", "/tls/ca.crt")
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert svc["spec"]["ports"][0]["port"] == 8443
    assert pdb["spec"]["minAvailable"] == 1
    assert spec["serviceAccountName"] == "fip-extender"


def test_rbac_is_least_privilege() -> None:
    sa, role, binding = docs("deploy/extender/rbac.yaml")
    rules = {
        (g, r): tuple(rule["verbs"])
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert rules == {
        ("", "nodes"): ("list", "watch"),
        ("apps", "replicasets"): ("list", "watch"),
        ("apps", "deployments"): ("list", "watch"),
        ("", "pods"): ("get",),
        ("", "pods/binding"): ("create",),
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "kube-system"}
    ]


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--tls-cert", "/etc/hostname"], "--tls-cert and --tls-key go together"),
        (["--client-ca", "/etc/hostname"], "--client-ca needs --tls-cert"),
        (["--kubeconfig", "/nonexistent"], "--kubeconfig /nonexistent: no such file"),
        (["--refresh", "0"], "--refresh must be a positive"),
    ],
)
def test_cli_refuses_inconsistent_flags(argv: list[str], problem: str) -> None:
    args = parser().parse_args(["--redis-url", "memory://", "--listen", "127.0.0.1:1", *argv])
    assert problem in check_args(args)


@pytest.mark.parametrize(
    "argv",
    [
        ["--listen", "nope"],
        ["--listen", "h:0"],
        ["--workers", "0"],
        ["--prefix", "fip"],
        ["--max-body-bytes", "-1"],
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    base = {"--redis-url": "memory://", "--listen": "127.0.0.1:1"}
    for i in range(0, len(argv), 2):
        base[argv[i]] = argv[i + 1]
    with pytest.raises(SystemExit) as info:
        parser().parse_args([x for kv in base.items() for x in kv])
    assert info.value.code == 2
    assert "fip-extender: error" in capsys.readouterr().err
