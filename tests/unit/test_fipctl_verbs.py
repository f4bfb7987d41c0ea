"""fipctl verbs against an in-memory store: tables, JSON, apply's all-or-nothing, release."""

from __future__ import annotations

import io
import ipaddress
import json

from fipctl_harness import EXAMPLES, NOW, TtyInput, allocate, fipctl, loaded_store

from fip.core.policy import ReleasePolicy
from fip.store.memory import MemoryStore

SUBNET_X = """
apiVersion: fip.io/v1
kind: Subnet
metadata: {name: dc2}
spec: {cidr: 203.0.113.0/24, gateway: 203.0.113.1, vlan: 7, nodeCIDRs: [192.168.40.0/24]}
"""


def test_subnets_table_shows_usage_columns() -> None:
    store = loaded_store()
    allocate(store, "default/Deployment/api", "u1")
    allocate(store, "default/Deployment/api", "u2")
    rec = allocate(store, "default/StatefulSet/web/0", "u3", policy=ReleasePolicy.IMMUTABLE)
    store.reserve("dc1-a", rec.ip, rec.owner, "u3", NOW)
    res = fipctl(store, "subnets")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].split() == ["SUBNET", "CIDR", "VLAN", "TOTAL", "ALLOCATED", "RESERVED", "FREE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["dc1-a"] == ["dc1-a", "192.0.2.0/24", "0", "191", "2", "1", "188"]
    assert rows["dc1-b"][2] == "120"
    assert rows["dc1-a-v6"][1] == "2001:db8:1::/64"
    # columns line up: every row starts its CIDR where the header does
    col = lines[0].index("CIDR")
    assert all(line[col - 3 : col] == "   " for line in lines[1:])


def test_subnets_json() -> None:
    store = loaded_store()
    allocate(store, "default/Pod/a", "u1", subnet="dc1-b")
    res = fipctl(store, "subnets", "-o", "json")
    data = json.loads(res.out)
    by = {d["subnet"]: d for d in data}
    assert by["dc1-b"] == {
        "subnet": "dc1-b",
        "cidr": "198.51.100.0/24",
        "vlan": 120,
        "total": 253,
        "allocated": 1,
        "reserved": 0,
        "free": 252,
    }
    # -o before the verb works the same
    assert json.loads(fipctl(store, "-o", "json", "subnets").out) == data


def test_empty_store_says_how_to_load() -> None:
    store = MemoryStore()
    store.initialise()
    res = fipctl(store, "subnets")
    assert res.code == 0
    assert res.out == ""
    assert "subnets apply -f FILE" in res.err
    assert json.loads(fipctl(store, "subnets", "-o", "json").out) == []


def test_subnets_notes_a_store_that_is_not_intact() -> None:
    store = MemoryStore()
    res = fipctl(store, "subnets")
    assert res.code == 0
    assert "allocation is stopped" in res.err and "fipctl init" in res.err
    assert "allocation is stopped" not in fipctl(loaded_store(), "subnets").err


def test_apply_reports_created_unchanged_configured() -> None:
    store = MemoryStore()
    store.initialise()
    first = fipctl(store, "subnets", "apply", "-f", str(EXAMPLES), "-o", "json")
    assert first.code == 0, first.err
    assert {(c["kind"], c["name"], c["action"]) for c in json.loads(first.out)} == {
        ("Subnet", "dc1-a", "created"),
        ("Subnet", "dc1-b", "created"),
        ("Subnet", "dc1-a-v6", "created"),
        ("Pool", "db", "created"),
    }
    again = fipctl(store, "subnets", "apply", "-f", str(EXAMPLES), "-o", "json")
    assert {c["action"] for c in json.loads(again.out)} == {"unchanged"}
    changed = EXAMPLES.read_text().replace("vlan: 120", "vlan: 121")
    res = fipctl(store, "subnets", "apply", "-f", "-", stdin=io.StringIO(changed))
    assert res.code == 0, res.err
    assert "dc1-b      configured" in res.out or "configured" in res.out.split("dc1-b")[1].split("\n")[0]
    assert next(s for s in store.subnets() if s.name == "dc1-b").vlan == 121


def test_apply_writes_nothing_when_one_document_is_invalid() -> None:
    store = MemoryStore()
    store.initialise()
    bad = EXAMPLES.read_text() + "\n---\n" + SUBNET_X.replace("vlan: 7", "vlan: 5000")
    res = fipctl(store, "subnets", "apply", "-f", "-", stdin=io.StringIO(bad))
    assert res.code == 1
    assert "document 5" in res.err and "spec.vlan" in res.err and "5000" in res.err
    assert "Traceback" not in res.err
    assert store.subnets() == [] and store.pools() == []


def test_apply_rejects_overlap_with_stored_subnet() -> None:
    store = loaded_store()
    overlapping = SUBNET_X.replace("203.0.113.0/24", "192.0.2.128/25").replace("203.0.113.1", "192.0.2.129")
    res = fipctl(store, "subnets", "apply", "-f", "-", stdin=io.StringIO(overlapping))
    assert res.code == 1
    assert "overlaps 192.0.2.0/24" in res.err and "dc1-a" in res.err
    assert "dc2" not in {s.name for s in store.subnets()}


def test_apply_rejects_overlap_inside_file_and_duplicate_names() -> None:
    store = MemoryStore()
    store.initialise()
    twice = SUBNET_X + "---\n" + SUBNET_X
    res = fipctl(store, "subnets", "apply", "-f", "-", stdin=io.StringIO(twice))
    assert res.code == 1 and "names a second Subnet" in res.err
    other = SUBNET_X.replace("name: dc2", "name: dc3")
    res = fipctl(store, "subnets", "apply", "-f", "-", stdin=io.StringIO(SUBNET_X + "---\n" + other))
    assert res.code == 1 and "overlaps" in res.err
    assert store.subnets() == []


def test_apply_pool_needs_known_subnet() -> None:
    store = MemoryStore()
    store.initialise()
    pool = "apiVersion: fip.io/v1\nkind: Pool\nmetadata: {name: p}\n"
    pool += "spec: {subnet: nowhere, size: 3, namespaces: [a]}\n"
    res = fipctl(store, "subnets", "apply", "-f", "-", stdin=io.StringIO(pool))
    assert res.code == 1 and "nowhere" in res.err and "not a known subnet" in res.err
    assert store.pools() == []


def test_apply_refuses_shrinking_under_a_held_ip() -> None:
    store = loaded_store()
    rec = allocate(store, "default/Pod/a", "u1")  # 192.0.2.10, the first of the range
    shrunk = EXAMPLES.read_text().replace('"192.0.2.10-192.0.2.200"', '"192.0.2.20-192.0.2.200"')
    res = fipctl(store, "subnets", "apply", "-f", "-", stdin=io.StringIO(shrunk))
    assert res.code == 1
    assert str(rec.ip) in res.err and "default/Pod/a" in res.err
    assert store.get("dc1-a", rec.ip) == rec


def test_apply_rejects_garbage_files() -> None:
    store = MemoryStore()
    store.initialise()
    cases = {
        "kind: [": "not valid YAML at line",
        "- a\n- b\n": "is not a resource",
        "apiVersion: v1\nkind: Subnet\n": "apiVersion",
        "apiVersion: fip.io/v1\nkind: Node\n": "is not a fip resource",
        "": "holds no Subnet or Pool",
        "!!python/object:os.system {}": "not valid YAML",
    }
    for text, expected in cases.items():
        res = fipctl(store, "subnets", "apply", "-f", "-", stdin=io.StringIO(text))
        assert res.code == 1, text
        assert expected in res.err, (text, res.err)
        assert res.err.count("\n") == 1 and "Traceback" not in res.err
    res = fipctl(store, "subnets", "apply", "-f", "/nonexistent/x.yaml")
    assert res.code == 1 and "cannot be read" in res.err


def test_ips_table_and_filters() -> None:
    store = loaded_store()
    allocate(store, "default/Deployment/api", "u1", pod="api-7d9-x1")
    allocate(store, "default/StatefulSet/web/0", "u2", pod="web-0", policy=ReleasePolicy.IMMUTABLE)
    allocate(store, "default/StatefulSet/web/1", "u3", pod="web-1", subnet="dc1-b")
    allocate(store, "db/Pod/psql", "u4", subnet="dc1-a-v6")
    res = fipctl(store, "ips")
    lines = res.out.splitlines()
    assert lines[0].split() == ["IP", "SUBNET", "STATE", "OWNER", "POD", "NODE", "POLICY", "AGE"]
    assert len(lines) == 5
    web0 = next(line.split() for line in lines if "web-0" in line)
    assert web0 == [
        "192.0.2.11",
        "dc1-a",
        "allocated",
        "default/StatefulSet/web/0",
        "web-0",
        "node-1",
        "immutable",
        "10m",
    ]
    assert len(fipctl(store, "ips", "--subnet", "dc1-a").out.splitlines()) == 3
    web = fipctl(store, "ips", "--owner", "default/StatefulSet/web", "-o", "json")
    assert sorted(r["pod"] for r in json.loads(web.out)) == ["web-0", "web-1"]
    one = json.loads(
        fipctl(store, "ips", "--owner", "default/StatefulSet/web", "--subnet", "dc1-b", "-o", "json").out
    )
    assert [r["ip"] for r in one] == ["198.51.100.2"]
    v6 = json.loads(fipctl(store, "ips", "--owner", "db/Pod/psql", "-o", "json").out)
    assert v6[0]["ip"] == "2001:db8:1::100" and v6[0]["age_seconds"] == 600.0


def test_ips_bad_filters_are_usage_errors() -> None:
    store = loaded_store()
    for argv in (["--owner", "default/Bogus/x"], ["--owner", "a/b"], ["--subnet", "Not_A_Name"]):
        res = fipctl(store, "ips", *argv)
        assert res.code == 2, argv
        assert res.err.startswith("fipctl: error: ") and argv[1] in res.err
    res = fipctl(store, "ips", "--subnet", "nope")
    assert res.code == 1 and 'subnet "nope" is not defined' in res.err


def test_release_asks_on_a_terminal_and_frees_on_yes() -> None:
    store = loaded_store()
    rec = allocate(store, "default/StatefulSet/web/0", "uid-9", pod="web-0", policy=ReleasePolicy.IMMUTABLE)
    res = fipctl(store, "release", str(rec.ip), stdin=TtyInput("y\n"))
    assert res.code == 0, res.err
    assert f"release {rec.ip} held by default/StatefulSet/web/0 (pod web-0, uid uid-9)? [y/N]" in res.err
    assert store.get("dc1-a", rec.ip) is None
    assert "released" in res.out


def test_release_no_keeps_the_ip() -> None:
    store = loaded_store()
    rec = allocate(store, "default/Pod/a", "u1")
    for answer in ("n\n", "\n", "maybe\n", ""):
        res = fipctl(store, "release", str(rec.ip), stdin=TtyInput(answer))
        assert res.code == 1 and "not released" in res.err
        assert store.get("dc1-a", rec.ip) == rec


def test_release_without_terminal_needs_yes() -> None:
    store = loaded_store()
    rec = allocate(store, "default/Pod/a", "u1")
    res = fipctl(store, "release", str(rec.ip))
    assert res.code == 1 and "--yes" in res.err
    assert store.get("dc1-a", rec.ip) == rec
    res = fipctl(store, "release", str(rec.ip), "--yes", "-o", "json")
    assert res.code == 0
    out = json.loads(res.out)
    assert out["released"]["owner"] == "default/Pod/a" and out["subnet"] == "dc1-a"
    again = fipctl(store, "release", str(rec.ip), "--yes", "-o", "json")
    assert again.code == 0 and json.loads(again.out)["released"] is None


def test_release_refuses_when_the_ip_changed_hands_while_asking() -> None:
    store = loaded_store()
    rec = allocate(store, "default/Pod/old", "old-uid")

    def reassign() -> None:  # between the question and the answer, the IP moves on
        store.release("dc1-a", rec.ip, rec.owner, "old-uid", NOW)
        allocate(store, "default/Pod/new", "new-uid", requested=rec.ip)

    res = fipctl(store, "release", str(rec.ip), stdin=TtyInput("y\n", on_read=reassign))
    assert res.code == 1
    assert "stale" in res.err
    holder = store.get("dc1-a", rec.ip)
    assert holder is not None and holder.pod_uid == "new-uid"


def test_release_says_so_when_the_ip_was_freed_while_asking() -> None:
    store = loaded_store()
    rec = allocate(store, "default/Pod/old", "old-uid")

    def free() -> None:
        store.release("dc1-a", rec.ip, rec.owner, "old-uid", NOW)

    res = fipctl(store, "release", str(rec.ip), stdin=TtyInput("y\n", on_read=free))
    assert res.code == 0 and "already free" in res.out


def test_release_reserved_ip_and_subnet_lookup() -> None:
    store = loaded_store()
    rec = allocate(store, "default/StatefulSet/db/0", "u1", subnet="dc1-a-v6", policy=ReleasePolicy.NEVER)
    store.reserve("dc1-a-v6", rec.ip, rec.owner, "u1", NOW)
    # a non-canonical IPv6 spelling finds the same address
    spelled = ipaddress.IPv6Address(rec.ip).exploded
    res = fipctl(store, "release", spelled, stdin=TtyInput("yes\n"))
    assert res.code == 0, res.err
    assert "reserved for default/StatefulSet/db/0 (no pod)" in res.err
    assert store.get("dc1-a-v6", rec.ip) is None
    wrong = fipctl(store, "release", "192.0.2.10", "--subnet", "dc1-b", "--yes")
    assert wrong.code == 1 and "not inside subnet" in wrong.err
    nowhere = fipctl(store, "release", "10.1.2.3", "--yes")
    assert nowhere.code == 1 and "lies in no defined subnet" in nowhere.err


def test_release_bad_ip_is_usage_error() -> None:
    store = loaded_store()
    for text in ("300.1.1.1", "10.0.1.0/24", "fe80::1%eth0", "", "010.0.0.1", "bogus"):
        res = fipctl(store, "release", text, "--yes")
        assert res.code == 2, text
        assert res.err.startswith("fipctl: error: IP: ")


def test_missing_url_is_usage_error_with_fix() -> None:
    store = loaded_store()
    res = fipctl(store, "subnets", env=False)
    assert res.code == 2
    assert "FIP_REDIS_URL" in res.err and "--redis-url" in res.err


def test_init_marks_new_store_and_is_idempotent() -> None:
    store = MemoryStore()
    res = fipctl(store, "init")
    assert res.code == 1 and "--yes" in res.err
    assert fipctl(store, "init", "--yes").code == 0
    store.check_intact()
    again = fipctl(store, "init", "-o", "json")
    assert again.code == 0 and json.loads(again.out) == {"initialised": False, "intact": True}


def test_init_refuses_a_store_that_holds_subnets_but_no_marker() -> None:
    store = loaded_store()
    store.lose_state()
    store.begin_rebuild()  # the controllers are rebuilding: subnets back, marker not yet
    fipctl(store, "subnets", "apply", "-f", str(EXAMPLES))
    res = fipctl(store, "init", "--yes")
    assert res.code == 1 and "rebuild" in res.err
    assert fipctl(store, "ips", "--subnet", "dc1-a").code == 0


def test_store_errors_are_one_line_exit_1() -> None:
    store = MemoryStore()  # never initialised, no subnets: every verb still answers cleanly
    res = fipctl(store, "ips", "--subnet", "x")
    assert res.code == 1 and res.err.count("\n") == 1


def test_internal_errors_hide_the_traceback_unless_debug() -> None:
    class Broken(MemoryStore):
        def subnets(self):  # type: ignore[no-untyped-def]
            raise ZeroDivisionError("boom")

    store = Broken()
    res = fipctl(store, "subnets")
    assert res.code == 1
    assert "internal error (ZeroDivisionError: boom)" in res.err and "--debug" in res.err
    assert "Traceback" not in res.err
    dbg = fipctl(store, "subnets", "--debug")
    assert dbg.code == 1 and "Traceback" in dbg.err


def test_help_exits_zero() -> None:
    store = MemoryStore()
    assert fipctl(store, "--help").code == 0
    assert fipctl(store, "subnets", "apply", "--help").code == 0
