"""`make demo` (`python -m lab.demo`): the whole fip system on this machine, driven with kubectl.

It brings the system up with `fip-lab up` (lab/cluster/default.yaml: L2 domains a and b, two
bridge-mode nodes each plus the macvlan node a3 in a; a legacy host per subnet), then plays a
story through the commands a user would type — `kubectl apply / get / drain / scale`, `fipctl`
— with the real kubectl against the lab's API server, each printed as typed:

1. a StatefulSet (immutable), a Deployment (immutable, Pool api-pool) and a TApp get IPs;
2. the legacy host accepts exactly the whitelisted IPs (the database's) and denies the rest;
3. a node is drained: its pods move only within their L2 domain and keep their IPs, and the
   legacy host still accepts them;
4. a scale-down frees IPs (`fipctl subnets` before and after);
5. a pod on the macvlan node reaches a ClusterIP Service through fip's eBPF datapath;
6. `fipctl check` is clean; a summary; `fip-lab down`.

Nothing is done behind the components' backs: the extender allocates and binds, fipd plugs,
the kubelets run CNI, the controllers free. The one hand-made step is the legacy host's
whitelist, written by its operator (it is outside Kubernetes, that is the point). Exit codes: 0
every check held, 1 a check failed or a component refused (the message says which), 2 not root,
130 interrupted (the lab is taken down on every exit path). `--keep` leaves the lab running.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from fip.core.errors import FipError
from fip.kube.resources import SERVICES
from lab.cluster import invariants
from lab.cluster.config import LabConfig, load
from lab.cluster.legacy import decisions, write_whitelist
from lab.demo_console import DemoCheckFailed, clear_stop_requests, note, request_stop, say, table
from lab.demo_console import check as _check
from lab.demo_kit import Lab, wait

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "lab" / "cluster" / "default.yaml"
WORKLOADS = REPO / "examples" / "demo.yaml"
Obj = dict[str, Any]
_signals: list[int] = []
PASSED: list[str] = []


def check(ok: bool, what: str) -> None:
    _check(ok, what)
    PASSED.append(what)


_MAIN_PID = os.getpid()


def _where(cfg: LabConfig) -> dict[str, str]:
    return {n.name: n.domain for n in cfg.nodes}


def ips(pods: list[Obj]) -> dict[str, str]:
    return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}


def start(lab: Lab, cfg: LabConfig) -> None:
    say("fip-lab up: Redis, the lab API server, fip-extender, fip-controllers, a fipd and a kubelet per node")
    lab.up(CONFIG)
    lab.sh("kubectl", "get", "nodes", "-L", "fip.io/l2,fip.io/mode")
    lab.sh("kubectl", "get", "subnets,pools")


def workloads(lab: Lab) -> list[Obj]:
    say("Three workloads ask for floating IPs: StatefulSet db, Deployment api (Pool api-pool), TApp jobs")
    lab.sh(
        "kubectl",
        "apply",
        "-f",
        str(WORKLOADS.relative_to(REPO)),
        shown_as="kubectl apply -f examples/demo.yaml",
    )
    pods = lab.wait_running("", 8)
    lab.sh("kubectl", "get", "pods", "-o", "wide")
    lab.sh("fipctl", "ips")
    api = [p for p in pods if p["metadata"]["name"].startswith("api-")]
    check(
        all(p["status"]["podIP"].startswith("10.10.1.") for p in api),
        "every api pod's IP is from api-pool's subnet dc-a",
    )
    check(len(set(ips(pods).values())) == len(pods), "8 pods, 8 different IPs")
    return pods


def legacy(lab: Lab, cfg: LabConfig) -> tuple[str, int, set[str]]:
    host = next(s.legacy for s in cfg.subnets if s.subnet.name == "dc-a")
    assert host is not None
    say(
        f"The database's clients are checked by a legacy firewall at {host.address}:{host.port} "
        "(outside Kubernetes)"
    )
    db = ips(lab.running("app=db"))
    allow = lab.run.legacy_allow("dc-a")
    note(f"Its operator whitelists db-0 and db-1, once ({allow}):")
    write_whitelist(allow, sorted(db.values()), "the database pods (fip keeps these IPs for them)")
    note("  " + ", ".join(sorted(db.values())))
    knocks(lab, str(host.address), host.port, set(db.values()))
    return str(host.address), host.port, set(db.values())


def knocks(lab: Lab, address: str, port: int, allowed: set[str]) -> None:
    log = lab.run.legacy_decisions("dc-a")
    seen = len(decisions(log))
    rows, wrong = [], []
    for p in lab.running():
        ok = lab.knock(p, address, port)
        ip = p["status"]["podIP"]
        rows.append((p["metadata"]["name"], ip, p["spec"]["nodeName"], "ACCEPTED" if ok else "denied"))
        if ok != (ip in allowed):
            wrong.append(p["metadata"]["name"])
    table(("POD", "IP", "NODE", f"CONNECT {address}:{port}"), rows)
    note(f"the legacy host's log: {len(decisions(log)) - seen} decisions, "
         f"{sum(1 for d, _ in decisions(log)[seen:] if d == 'ACCEPT')} accepted")  # fmt: skip
    check(not wrong, f"the legacy host accepts exactly the whitelisted IPs {', '.join(sorted(allowed))}")


def drain(lab: Lab, cfg: LabConfig, address: str, port: int, allowed: set[str]) -> None:
    where = _where(cfg)
    before = {p["metadata"]["name"]: p for p in lab.running()}
    node = before["db-0"]["spec"]["nodeName"]
    say(f"Node {node} (domain {where[node]}) goes into maintenance: its pods move, their IPs go with them")
    lab.sh("kubectl", "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s")
    moving = sorted(n for n, p in before.items() if p["spec"]["nodeName"] == node)

    def moved() -> tuple[int, list[Obj] | None]:
        now = lab.running()
        elsewhere = [p for p in now if p["spec"]["nodeName"] != node]
        return len(elsewhere), (now if len(elsewhere) == len(now) == len(before) else None)

    after = {
        p["metadata"]["name"]: p
        for p in wait(f"all {len(before)} pods Running off {node}", len(before), moved, 90)
    }
    rows, ok = [], True
    for name in moving:
        b = before[name]
        # a Deployment's pods are replaced by new ones: follow the IP to the pod holding it now
        same_ip = [p for p in after.values() if p["status"]["podIP"] == b["status"]["podIP"]]
        a = after.get(name) or (same_ip or [p for n, p in after.items() if n not in before])[0]
        to = a["spec"]["nodeName"]
        rows.append((name, node, f"{to} ({a['metadata']['name']})" if a["metadata"]["name"] != name else to,
                     where[to], b["status"]["podIP"], a["status"]["podIP"]))  # fmt: skip
        ok &= where[to] == where[node]
        ok &= name.startswith("api-") or a["status"]["podIP"] == b["status"]["podIP"]
    table(("POD", "FROM", "TO", "DOMAIN", "IP BEFORE", "IP AFTER"), rows)
    api_before = {p["status"]["podIP"] for n, p in before.items() if n.startswith("api-")}
    api_after = {p["status"]["podIP"] for n, p in after.items() if n.startswith("api-")}
    check(ok, f"every pod of {node} stayed in domain {where[node]}; db-0 kept its IP")
    check(api_after == api_before, "Deployment api holds the same set of IPs as before")
    knocks(lab, address, port, allowed)
    lab.sh("kubectl", "uncordon", node)


def scale_down(lab: Lab) -> None:
    say("Deployment api scales down from 3 to 1: its IPs beyond 1 are freed")
    lab.sh("fipctl", "subnets")
    before = set(ips(lab.running("app=api")).values())
    lab.sh("kubectl", "scale", "deployment", "api", "--replicas=1")
    lab.wait_running("app=api", 1)

    def freed() -> tuple[int, set[str] | None]:
        held = {a.get("ip") for a in invariants.allocations(invariants.redis_url(lab.run))}
        gone = {ip for ip in before if ip not in held}
        return len(gone), (gone if len(gone) == 2 else None)

    gone = wait("2 of api's IPs freed in Redis", 2, freed, 60)
    lab.sh("fipctl", "subnets")
    check(len(gone) == 2, f"{', '.join(sorted(gone))} are free again")


def clusterip(lab: Lab) -> None:
    say("Pod client runs on a3 in macvlan mode, beside the host's stack: it reaches Service db through eBPF")
    lab.sh("kubectl", "get", "service", "db")
    service = lab.client.get(SERVICES, "db", "default")
    cip = service["spec"]["clusterIP"]
    client = next(p for p in lab.running() if p["metadata"]["name"] == "client")
    db = {p["metadata"]["uid"]: p["metadata"]["name"] for p in lab.running("app=db")}
    answers = [lab.http(client, cip, 80) for _ in range(6)]
    table(
        ("FROM", "TO", "ANSWERED BY", "ITS IP"), [("client", f"{cip}:80", a["pod"], a["ip"]) for a in answers]
    )
    check(all(a["uid"] in db for a in answers), f"every request to {cip}:80 reached a db pod")


def final(lab: Lab, cfg: LabConfig) -> None:
    say("Consistency: Redis, the API server and the nodes agree")
    lab.sh(
        "fipctl",
        "check",
        "--kubeconfig",
        str(lab.run.kubeconfig),
        shown_as="fipctl check --kubeconfig $KUBECONFIG",
    )
    problems = invariants.check(lab.client, lab.run, cfg)
    check(
        not problems,
        "no IP held twice; every running pod plugged on its node and reachable from its legacy host",
    )


def story(lab: Lab) -> None:
    cfg = load(CONFIG)
    start(lab, cfg)
    workloads(lab)
    address, port, allowed = legacy(lab, cfg)
    drain(lab, cfg, address, port, allowed)
    scale_down(lab)
    clusterip(lab)
    final(lab, cfg)


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """SIGINT/SIGTERM: stop at the next step boundary (demo_console); a second one at once."""
    if os.getpid() != _MAIN_PID:
        os._exit(128 + signum)
    _signals.append(signum)
    request_stop(signum)
    if len(_signals) > 1:
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.demo", description="fip demo: the whole system on fip-lab up"
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the lab running at the end (fip-lab down later)"
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("demo: the lab builds network namespaces, bridges and veths: run it as root (sudo make demo)",
              file=sys.stderr)  # fmt: skip
        return 2
    _signals.clear()
    PASSED.clear()
    clear_stop_requests()
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    run_dir = Path(tempfile.mkdtemp(prefix="fipdemo-"))
    lab = Lab(run_dir)
    t0 = time.monotonic()
    print(
        f"fip demo: the lab runs in {run_dir} (logs, kubeconfig); every command below is what you would type"
    )
    try:
        story(lab)
    except DemoCheckFailed as err:
        print(f"\ndemo: check failed: {err}\n(logs: {run_dir}/logs)", file=sys.stderr)
        return _end(lab, 1, args.keep)
    except (FipError, OSError) as err:
        print(f"\ndemo: {err}", file=sys.stderr)
        return _end(lab, 1, args.keep)
    except KeyboardInterrupt:
        print("\ndemo: interrupted; taking the lab down", file=sys.stderr)
        return _end(lab, 130, False)
    say(f"Summary: {len(PASSED)} checks held, in {time.monotonic() - t0:.0f} s")
    for i, what in enumerate(PASSED, 1):
        note(f"{i:>2}. {what}")
    if args.keep:
        print(f"the lab keeps running: export KUBECONFIG={lab.run.kubeconfig}; "
              f"fip-lab down --run-dir {run_dir} when done")  # fmt: skip
        return 0
    return _end(lab, 0, False)


def _end(lab: Lab, code: int, keep: bool) -> int:
    if keep:
        return code
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the teardown must not be cut short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    lab.down()
    shutil.rmtree(lab.run.root, ignore_errors=True)
    print("fip-lab down: the lab is gone (no namespace, process or BPF pin left)", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
