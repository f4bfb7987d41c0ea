"""fipctl against real Redis servers (standalone and Cluster), through its real store opener and
as the installed `fipctl` program."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fip.cli.fipctl import main
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord
from fip.store.factory import open_store
from fip.store.protocol import AllocateRequest, Store
from lab.redisproc import RedisCluster, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "subnets.yaml"
FIPCTL = Path(sys.executable).parent / "fipctl"


def run(url: str, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--redis-url", url, *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err, environ={})
    return code, out.getvalue(), err.getvalue()


def alloc(
    store: Store, subnet: str, owner: str, uid: str, policy: ReleasePolicy = ReleasePolicy.POD
) -> AllocationRecord:
    key = OwnerKey.decode(owner)
    return store.allocate(AllocateRequest(subnet, key, uid, key.name, "node-1", policy, time.time() - 90))


def populate(url: str) -> list[AllocationRecord]:
    code, _, err = run(url, "init", "--yes")
    assert code == 0, err
    code, _, err = run(url, "subnets", "apply", "-f", str(EXAMPLES))
    assert code == 0, err
    store = open_store(url)
    try:
        recs = [alloc(store, "dc1-a", "default/Deployment/api", f"u{i}") for i in range(3)]
        web = alloc(store, "dc1-b", "default/StatefulSet/web/0", "w0", ReleasePolicy.IMMUTABLE)
        store.reserve("dc1-b", web.ip, web.owner, "w0", time.time())
    finally:
        store.close()
    return recs


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    redis_server.command("FLUSHALL")
    return redis_server.url


def test_populated_redis_prints_the_subnets_table(url: str) -> None:
    recs = populate(url)
    code, out, err = run(url, "subnets")
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert rows["SUBNET"] == ["SUBNET", "CIDR", "VLAN", "TOTAL", "ALLOCATED", "RESERVED", "FREE"]
    assert rows["dc1-a"] == ["dc1-a", "192.0.2.0/24", "0", "191", "3", "0", "188"]
    assert rows["dc1-b"] == ["dc1-b", "198.51.100.0/24", "120", "253", "0", "1", "252"]
    assert rows["dc1-a-v6"][3:] == ["256", "0", "0", "256"]
    code, out, err = run(url, "-o", "json", "ips", "--owner", "default/Deployment/api")
    got = json.loads(out)
    assert sorted(r["ip"] for r in got) == sorted(str(r.ip) for r in recs)
    assert all(r["age_seconds"] >= 60 for r in got)
    code, out, err = run(url, "ips", "--owner", "default/StatefulSet/web")
    assert code == 0 and "reserved" in out and "immutable" in out


def test_release_and_reapply_against_redis(url: str) -> None:
    recs = populate(url)
    code, out, err = run(url, "release", str(recs[0].ip), "--yes")
    assert code == 0 and "released" in out, err
    code, out, _ = run(url, "-o", "json", "subnets")
    assert next(r for r in json.loads(out) if r["subnet"] == "dc1-a")["allocated"] == 2
    # shrinking dc1-a under a held IP is refused before anything is written
    held = str(recs[1].ip)
    shrunk = EXAMPLES.read_text().replace('"192.0.2.10-192.0.2.200"', '"192.0.2.50-192.0.2.200"')
    code, _, err = run(url, "subnets", "apply", "-f", "-", stdin=shrunk)
    assert code == 1 and held in err
    code, out, err = run(url, "subnets", "apply", "-f", str(EXAMPLES))
    assert code == 0 and "unchanged" in out and "created" not in out, err


def test_new_redis_refuses_until_init(url: str) -> None:
    code, _, err = run(url, "subnets", "apply", "-f", str(EXAMPLES))
    assert code == 0, err  # definitions may be written before init ...
    store = open_store(url)
    try:
        with pytest.raises(Exception, match="lost"):
            alloc(store, "dc1-a", "default/Pod/a", "u1")  # ... but nothing is handed out
    finally:
        store.close()
    code, _, err = run(url, "init", "--yes")
    assert code == 1 and "rebuild" in err  # holds subnets without a marker: not a new store


def test_cluster_prints_the_same_table(redis_cluster: RedisCluster) -> None:
    redis_cluster.flushall()
    populate(redis_cluster.url)
    code, out, err = run(redis_cluster.url, "subnets")
    assert code == 0, err
    assert "dc1-a      192.0.2.0/24      0      191     3           0          188" in out


def test_program_exit_codes_and_messages(url: str) -> None:
    populate(url)

    def fipctl(*argv: str, env_url: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin"}
        if env_url is not None:
            env["FIP_REDIS_URL"] = env_url
        return subprocess.run(
            [str(FIPCTL), *argv], capture_output=True, text=True, timeout=60, env=env, check=False
        )

    ok = fipctl("subnets", env_url=url)
    assert ok.returncode == 0 and "dc1-a" in ok.stdout
    dead = f"redis://127.0.0.1:{free_port()}/0"
    down = fipctl("--redis-url", dead, "subnets")
    assert down.returncode == 1
    assert down.stderr.startswith("fipctl: ") and "Traceback" not in down.stderr
    assert down.stderr.count("\n") == 1
    unset = fipctl("subnets")
    assert unset.returncode == 2 and "FIP_REDIS_URL" in unset.stderr
    bad = fipctl("ips", env_url="redis://host:0")
    assert bad.returncode == 2 and "FIP_REDIS_URL" in bad.stderr and "Traceback" not in bad.stderr
    noyes = fipctl("release", "192.0.2.10", env_url=url)  # stdin is not a terminal
    assert noyes.returncode == 1 and "--yes" in noyes.stderr
