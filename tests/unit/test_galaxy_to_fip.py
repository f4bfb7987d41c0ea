"""scripts/galaxy_to_fip.py: Galaxy's floatingip-config -> fip Subnets, Galaxy's FloatingIP
objects -> `fip.io/reserved-ips` annotations the controllers' rebuild accepts. Input shapes as
docs/migrate-from-galaxy.md describes them (from the reference study of Galaxy's formats)."""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from fip.core import reservations
from fip.core.spec import parse_subnet

REPO = Path(__file__).resolve().parents[2]


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("galaxy_to_fip", REPO / "scripts" / "galaxy_to_fip.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["galaxy_to_fip"] = mod
    spec.loader.exec_module(mod)
    return mod


g = load()

CONFIG: list[dict[str, Any]] = [
    # two node subnets share one pod subnet with disjoint ranges: one fip Subnet
    {"nodeSubnets": ["10.49.27.0/24"], "ips": ["10.49.28.10~10.49.28.99"], "subnet": "10.49.28.0/24",
     "gateway": "10.49.28.1", "vlan": 2},
    {"nodeSubnets": ["10.49.29.0/24"], "ips": ["10.49.28.100~10.49.28.200", "10.49.28.250"],
     "subnet": "10.49.28.0/24", "gateway": "10.49.28.1", "vlan": 2},
    # the old single routableSubnet form, untagged
    {"routableSubnet": "10.180.1.0/24", "ips": ["10.180.154.2~10.180.154.3"], "subnet": "10.180.154.0/24",
     "gateway": "10.180.154.1"},
]  # fmt: skip


def fip_obj(ip: str, key: str, policy: int) -> dict[str, object]:
    spec = {"key": key, "policy": policy, "attribute": "{}", "updateTime": "2024-01-01T00:00:00Z"}
    return {
        "apiVersion": "galaxy.k8s.io/v1alpha1",
        "kind": "FloatingIP",
        "metadata": {"name": ip},
        "spec": spec,
    }


def test_config_becomes_subnets_fip_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"floatingips": json.dumps(CONFIG)}}
    (tmp_path / "cm.json").write_text(json.dumps(cm))
    assert g.main(["subnets", str(tmp_path / "cm.json")]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    subnets = {s.name: s for s in map(parse_subnet, docs)}
    a = subnets["galaxy-10-49-28-0-24"]
    assert (str(a.gateway), a.vlan) == ("10.49.28.1", 2)
    assert [str(n) for n in a.nodes.node_cidrs] == ["10.49.27.0/24", "10.49.29.0/24"]
    assert docs[0]["spec"]["ranges"] == [
        "10.49.28.10-10.49.28.99",
        "10.49.28.100-10.49.28.200",
        "10.49.28.250",
    ]
    b = subnets["galaxy-10-180-154-0-24"]
    assert ([str(n) for n in b.nodes.node_cidrs], b.vlan) == (["10.180.1.0/24"], 0)


def test_node_label_mode_needs_the_label_and_the_node_cidr() -> None:
    (s, _) = g.to_subnets(CONFIG, node_label="fip.io/node")
    assert dict(s.nodes.match_labels) == {"fip.io/node": "true"}
    assert [str(n) for n in s.nodes.node_cidrs] == ["10.49.27.0/24", "10.49.29.0/24"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}], "needs subnet, gateway and nodeSubnets"),
        ([CONFIG[0], {**CONFIG[1], "vlan": 3}], "two gateways or VLANs"),
        ([{**CONFIG[0], "ips": ["10.9.9.1~10.9.9.2"]}], "ranges"),  # fip's own parser: outside the CIDR
        ([CONFIG[0], {**CONFIG[2], "subnet": "10.49.0.0/16", "gateway": "10.49.0.1", "ips": []}], "overlaps"),
    ],
)
def test_bad_config_is_refused_naming_it(entries: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(g.FipError, match=message):
        g.to_subnets(entries)


def test_floatingips_become_annotations_the_rebuild_accepts() -> None:
    subnets = g.to_subnets(CONFIG)
    fips = [
        fip_obj("10.49.28.11", "sts_db_mysql_mysql-0", 1),
        fip_obj("10.49.28.12", "sts_db_mysql_mysql-2", 2),
        fip_obj("10.49.28.13", "dp_web_api_api-6b96dc5bcd-k4flj", 1),
        fip_obj("10.49.28.14", "dp_web_api_", 2),  # a reserved IP of the Deployment, no pod now
        fip_obj("10.49.28.15", "pool__shared_dp_web_front_front-7d9c-x2", 2),
        fip_obj("10.180.154.2", "tapp_batch_jobs_jobs-3", 1),
        fip_obj("10.49.28.16", "dp_web_api_api-6b96dc5bcd-zz", 0),
        fip_obj("10.49.28.17", "NULL_default_NULL_lonely", 2),
        fip_obj("10.49.28.18", "pool__shared_", 2),
        fip_obj("192.168.0.5", "sts_db_mysql_mysql-1", 1),
    ]
    lines = g.annotate_commands(fips, subnets)
    argvs = [shlex.split(x) for x in lines if not x.startswith("#")]
    assert all(a[:2] == ["kubectl", "-n"] and a[3:5] == ["annotate", "--overwrite"] for a in argvs)
    got = {(a[2], a[5], a[6]): reservations.parse(a[7].split("=", 1)[1]) for a in argvs}
    assert {a[7].split("=", 1)[0] for a in argvs} == {reservations.KEY}
    assert set(got) == {
        ("db", "statefulset", "mysql"), ("web", "deployment", "api"),
        ("web", "deployment", "front"), ("batch", "tapp.apps.tkestack.io", "jobs"),
    }  # fmt: skip
    rows = {k[2]: sorted((r.instance, r.subnet, str(r.ip)) for r in v) for k, v in got.items()}
    assert rows["mysql"] == [
        ("0", "galaxy-10-49-28-0-24", "10.49.28.11"),
        ("2", "galaxy-10-49-28-0-24", "10.49.28.12"),
    ]
    assert rows["api"] == [
        ("", "galaxy-10-49-28-0-24", "10.49.28.13"),
        ("", "galaxy-10-49-28-0-24", "10.49.28.14"),
    ]
    assert rows["jobs"] == [("3", "galaxy-10-180-154-0-24", "10.180.154.2")]
    comments = "\n".join(x for x in lines if x.startswith("#"))
    for ip, why in [("10.49.28.16", "policy 0"), ("10.49.28.17", "bare pod"), ("10.49.28.18", "for a pool"),
                    ("192.168.0.5", "in no Subnet")]:  # fmt: skip
        assert f"# {ip}" in comments and why in comments, (ip, why)


def test_exclude_keeps_fip_off_what_galaxy_still_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fips = {"apiVersion": "v1", "kind": "List", "items": [
        fip_obj("10.49.28.16", "dp_web_api_api-6b96dc5bcd-zz", 0),  # default policy: still in use
        fip_obj("10.49.28.17", "NULL_default_NULL_lonely", 2),  # a bare pod: not carried
        fip_obj("10.49.28.11", "sts_db_mysql_mysql-0", 1),  # carried as a reservation instead
        fip_obj("10.180.154.3", "tapp_batch_jobs_jobs", 1),  # no ordinal: not carried
    ]}  # fmt: skip
    (tmp_path / "fips.json").write_text(json.dumps(fips))
    (tmp_path / "cfg.json").write_text(json.dumps(CONFIG))
    assert g.main(["subnets", str(tmp_path / "cfg.json"), "--exclude", str(tmp_path / "fips.json")]) == 0
    subnets = {s.name: s for s in map(parse_subnet, yaml.safe_load_all(capsys.readouterr().out))}
    assert [str(a) for a in sorted(subnets["galaxy-10-49-28-0-24"].excluded)] == [
        "10.49.28.16",
        "10.49.28.17",
    ]
    assert [str(a) for a in subnets["galaxy-10-180-154-0-24"].excluded] == ["10.180.154.3"]


def test_bad_files_fail_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.json").write_text('{"not": "a config"}')
    assert g.main(["subnets", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("galaxy_to_fip: ") and err.count("\n") == 1
    assert g.main(["subnets", str(tmp_path / "missing.json")]) == 1
