"""`fip-lab up / status / down` as a user runs them: health, kubectl, restarts, bad input, failures."""
# ruff: noqa: F811  (the system fixture imported from system_lab is re-bound as a test parameter)

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import yaml
from system_lab import FIP_LAB, NEEDS_ROOT, System, down, system, up  # noqa: F401  (system is a fixture)

from bridge import netlink
from lab.cluster.rundir import RunDir
from lab.cluster.supervisor import pid_alive
from lab.kubelet.sandboxes import netns_name
from lab.wait import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, NEEDS_ROOT]


def status(run_dir: Path) -> tuple[int, dict[str, object]]:
    argv = [str(FIP_LAB), "status", "--run-dir", str(run_dir), "-o", "json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}


def test_status_shows_every_component_healthy(system: System) -> None:
    code, report = status(system.run.root)
    assert code == 0, report
    names = {c["name"] for c in report["components"]}  # type: ignore[attr-defined]
    nodes = [n.name for n in system.cfg.nodes]
    assert {"redis", "apiserver", "scheduler", "workloads", "legacy-dc-a", "legacy-dc-b"} <= names
    assert {f"fipd-{n}" for n in nodes} | {f"kubelet-{n}" for n in nodes} <= names
    assert {"extender", "controllers"} <= names
    assert all(c["health"] == "ok" for c in report["components"])  # type: ignore[attr-defined]


def test_kubectl_sees_the_registered_nodes_and_the_subnets(system: System) -> None:
    nodes = json.loads(system.kubectl("get", "nodes", "-o", "json"))["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(n.name for n in system.cfg.nodes)
    for n in nodes:
        assert next(c for c in n["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
        assert n["metadata"]["labels"]["fip.io/l2"] in ("a", "b")
    assert "dc-a" in system.kubectl("get", "subnets")


def test_fip_lab_check_reports_a_pod_whose_sandbox_is_gone(system: System) -> None:
    container = {"name": "c", "image": "c:1", "resources": {"limits": {"fip.io/ip": "1"}}}
    template = {"metadata": {"labels": {"app": "chk"}}, "spec": {"containers": [container]}}
    meta = {"name": "chk", "namespace": "default"}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
           "spec": {"replicas": 1, "serviceName": "chk", "selector": {"matchLabels": {"app": "chk"}},
                    "template": template}}  # fmt: skip
    system.kubectl("apply", "-f", "-", stdin=json.dumps(sts))
    pod = system.wait_pods("app=chk", 1)[0]
    argv = [str(FIP_LAB), "check", "--run-dir", str(system.run.root)]
    ok = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0 and "ok: invariants hold" in ok.stdout, ok.stdout + ok.stderr
    netlink.remove_netns(netns_name(system.prefix, pod["metadata"]["uid"]))  # behind everyone's back
    broken = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert broken.returncode == 1
    assert "PROBLEM: pod default/chk-0:" in broken.stdout, broken.stdout
    system.kubectl("delete", "statefulset", "chk", "--wait=true")
    system.wait_gone("app=chk")


def test_a_killed_component_is_restarted_by_the_supervisor(system: System) -> None:
    state = system.run.read() or {}
    comps = state["components"]
    for name in ("kubelet-b2", "fipd-a1"):
        os.kill(comps[name]["pid"], signal.SIGKILL)

    def recovered() -> bool:
        code, report = status(system.run.root)
        rows = {c["name"]: c for c in report.get("components", [])}  # type: ignore[attr-defined]
        return code == 0 and all(rows[n]["restarts"] >= 1 for n in ("kubelet-b2", "fipd-a1"))

    wait_for(recovered, 60, "kubelet-b2 and fipd-a1 restarted and healthy")


def test_a_second_up_in_the_same_run_dir_is_refused(system: System) -> None:
    again = up(system.run.root)
    assert again.returncode == 1
    assert "already running" in again.stderr


def test_a_bad_config_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    bad = {"domains": {"a": {"nodes": 2, "subnets": [{"name": "x", "cidr": "10.10.0.0/16"}]},
                       "b": {"nodes": 1, "subnets": [{"name": "y", "cidr": "10.10.5.0/24"}]}}}  # fmt: skip
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(bad))
    before = netlink.list_netns()
    refused = up(tmp_path / "run", "--config", str(path))
    assert refused.returncode == 2
    assert f"lab config {path}: domains.b.subnets[0].cidr" in refused.stderr
    assert "overlaps 10.10.0.0/16" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "run" / "state.json").exists()
    # no namespace of a new lab (fl-*); other labs, e.g. this module's, keep changing theirs
    known = {"-".join(n.split("-")[:2]) for n in before}
    assert [
        n for n in netlink.list_netns() if n.startswith("fl-") and "-".join(n.split("-")[:2]) not in known
    ] == []


def test_a_failed_up_removes_what_it_made_and_down_still_works(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "FIP_LAB_FAULT": "kubelet-b1"}
    argv = [str(FIP_LAB), "up", "--run-dir", str(run_dir), "--allow-missing"]
    failed = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "kubelet-b1: exited with code 1" in failed.stderr
    assert "FIP_LAB_FAULT=kubelet-b1: this component fails on purpose" in failed.stderr  # the log tail
    prefix = str((RunDir(run_dir).read() or {})["prefix"])
    assert [n for n in netlink.list_netns() if n.startswith(prefix)] == []
    for _ in range(2):
        stopped = down(run_dir)
        assert stopped.returncode == 0, stopped.stderr
    assert status(run_dir)[0] == 3


def test_down_cleans_up_after_a_killed_supervisor(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    started = up(run_dir)
    assert started.returncode == 0, started.stderr
    state = RunDir(run_dir).read() or {}
    os.kill(state["supervisor_pid"], signal.SIGKILL)
    pids = [c["pid"] for c in state["components"].values()]
    wait_for(lambda: not [p for p in pids if pid_alive(p)], 30, "every component ended with its supervisor")
    assert status(run_dir)[0] == 1  # the lab is reported broken, not up
    assert [n for n in netlink.list_netns() if n.startswith(state["prefix"])]  # left for down to remove
    stopped = down(run_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert [n for n in netlink.list_netns() if n.startswith(state["prefix"])] == []
    assert not Path(state["bpf_dir"]).exists()
