"""`fip-lab scheduler` / `fip-lab workloads` refuse bad input with a message and exit 2."""

from __future__ import annotations

import pathlib

import pytest

from lab.cli import main as lab_main
from lab.scheduler.cli import main as scheduler_main
from lab.workloads.cli import main as workloads_main


def test_scheduler_refuses_an_invalid_configuration(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
        "clusters: [{name: lab, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: lab, context: {cluster: lab, user: lab}}]\nusers: [{name: lab, user: {}}]\n"
    )
    config = tmp_path / "sched.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "extenders: [{urlPrefix: 'http://x', enableHttps: true}]\n"
    )
    assert scheduler_main(["--kubeconfig", str(kubeconfig), "--config", str(config)]) == 2
    assert 'unknown field "extenders[0].enableHttps"' in capsys.readouterr().err


def test_workloads_refuse_a_kubeconfig_without_a_server(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    assert workloads_main(["--kubeconfig", str(kubeconfig)]) == 2
    assert "cannot load Kubernetes configuration" in capsys.readouterr().err


def test_fip_lab_lists_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert lab_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "scheduler" in out and "workloads" in out
