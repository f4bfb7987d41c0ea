"""What `fip-lab up` runs: every component's command line, health probe and start stage.

Stages start in order; each waits for its components' health before the next begins:

    0  redis (AOF, fsync always: a SIGKILL loses nothing), lab apiserver
       then: the CRs applied, the store initialised
    1  fip-extender (gunicorn), fip-controllers, one fipd per node, the legacy hosts' services
    2  lab scheduler (deploy/kube-scheduler config), lab workload controllers, one kubelet per node

`missing()` names the parts that do not exist in this tree yet (the `fip-extender` or
`fip-controllers` command, the scheduler configuration): `up` refuses to start without them
unless `--allow-missing`, and then says what runs without them. Without the extender the lab
scheduler runs without extenders and the kubelets advertise `fip.io/ip` capacity (the resource
is then an ordinary extended resource), so pods get bound but never get an IP.

`FIP_LAB_FAULT=<component>` in the environment makes that component exit at once (how the tests
check that a failed `up` removes everything and says which part failed).

Everything a component writes lives under the run directory (`RunDir`); probes are plain data
(`{"http": port, "path": ...}`, `{"redis": port}`, `{"socket": path}`) so `fip-lab status`, in
another process, can run them again.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.cluster.config import L2_LABEL, LabConfig
from lab.cluster.health import Probe, both, executable, http_ok, redis_ping, sentinel_knows, socket_listening
from lab.cluster.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PY = sys.executable
SCHEDULER_CONFIG = REPO / "deploy" / "kube-scheduler" / "scheduler-config.yaml"
EXTENDER = BIN / "fip-extender"
CONTROLLERS = BIN / "fip-controllers"
FIPD = BIN / "fipd"
UPLINK = "eth1"
SENTINEL_MASTER = "fip"
# A lab's clock runs fast: reconcile every 5 s, leaks freed after 10 s (two confirmations), a
# restarted controller takes the lease over within 5 s (production defaults: 60 s, 60 s, 15 s).
CONTROLLER_TIMERS = ["--reconcile-period", "5", "--grace", "10", "--lease-duration", "5"]
FAULT = "FIP_LAB_FAULT"  # names a component that must fail to start (tests of a failed `up`)


@dataclass
class Spec:
    name: str
    stage: int
    argv: list[str]
    probe: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    pre: list[str] | None = None  # run (to completion) before every start, e.g. fipd install-cni


def bpf_dir(prefix: str) -> str:
    """Where this lab's fipds pin their BPF maps (bpffs lives outside the run dir; `down`
    removes this directory)."""
    return f"/sys/fs/bpf/{prefix}"


def missing() -> list[str]:
    out = []
    if not executable(EXTENDER):
        out.append(f"fip-extender (no {EXTENDER}: the scheduler extender is not built/installed)")
    if not executable(CONTROLLERS):
        out.append(f"fip-controllers (no {CONTROLLERS}: the release controllers are not built/installed)")
    if not SCHEDULER_CONFIG.is_file():
        out.append(f"kube-scheduler configuration ({SCHEDULER_CONFIG} does not exist)")
    return out


def probe_of(spec: dict[str, Any] | None) -> Probe | None:
    if spec is None:
        return None
    parts: list[Probe] = []
    if "http" in spec:
        parts.append(http_ok(int(spec["http"]), str(spec.get("path", "/healthz"))))
    if "redis" in spec:
        parts.append(redis_ping(int(spec["redis"])))
    if "sentinel" in spec:
        parts.append(sentinel_knows(int(spec["sentinel"]), SENTINEL_MASTER))
    if "socket" in spec:
        parts.append(socket_listening(Path(spec["socket"])))
    return both(*parts)


def scheduler_config(run: RunDir, extender_port: int | None) -> Path:
    """deploy/'s KubeSchedulerConfiguration pointed at the lab's extender (plain HTTP on
    loopback: the lab does not issue the TLS client certificates); none without an extender."""
    doc: dict[str, Any] = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
    }
    if SCHEDULER_CONFIG.is_file() and extender_port is not None:
        doc = yaml.safe_load(SCHEDULER_CONFIG.read_text())
        for ext in doc.get("extenders") or []:
            path = "/" + ext["urlPrefix"].split("://", 1)[1].partition("/")[2]
            ext["urlPrefix"] = f"http://127.0.0.1:{extender_port}{path.rstrip('/')}"
            ext["enableHTTPS"] = False
            ext.pop("tlsConfig", None)
    doc["clientConnection"] = {"kubeconfig": str(run.kubeconfig)}
    target = run.root / "scheduler-config.yaml"
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


def plan(cfg: LabConfig, run: RunDir, ports: dict[str, int], node_netns: dict[str, str],
         legacy_netns: dict[str, str]) -> list[Spec]:  # fmt: skip
    kc = str(run.kubeconfig)
    redis_url = store_url(cfg, ports)
    specs = [
        *redis_specs(cfg, run, ports),
        Spec("apiserver", 0, [PY, "-m", "lab.cli", "apiserver", "--listen", f"127.0.0.1:{ports['apiserver']}",
                              "--kubeconfig-out", kc], {"http": ports["apiserver"]}),
    ]  # fmt: skip
    have_extender = executable(EXTENDER) and SCHEDULER_CONFIG.is_file()
    if have_extender:
        specs.append(Spec(
            "extender", 1,
            [str(EXTENDER), "--redis-url", redis_url, "--listen", f"127.0.0.1:{ports['extender']}",
             "--kubeconfig", kc, "--workers", "2"],
            {"http": ports["extender"]}, env={"PROMETHEUS_MULTIPROC_DIR": str(run.mkdir("extender-metrics"))},
        ))  # fmt: skip
    if executable(CONTROLLERS):
        specs.append(Spec(
            "controllers", 1,
            [str(CONTROLLERS), "--kubeconfig", kc, "--redis-url", redis_url,
             "--listen", f"127.0.0.1:{ports['controllers']}", *CONTROLLER_TIMERS],
            {"http": ports["controllers"]},
        ))  # fmt: skip
    for n in cfg.nodes:
        d = run.node(n.name)
        sock = d / "fipd.sock"
        specs.append(Spec(
            f"fipd-{n.name}", 1,
            [str(FIPD), "--node", n.name, "--mode", n.mode, "--parent", UPLINK,
             "--host-netns", node_netns[n.name], "--kubeconfig", kc, "--socket", str(sock),
             "--state-dir", str(d / "fipd-state"),
             "--service-cidr", str(cfg.service_cidr), "--redis-url", redis_url,
             "--metrics-port", str(ports[f"fipd-{n.name}"]),
             "--bpf-pin-dir", f"{bpf_dir(run.prefix)}/{n.name}"],
            {"socket": str(sock), "http": ports[f"fipd-{n.name}"], "path": "/metrics"},
            pre=[str(FIPD), "install-cni", "--bin-dir", str(d / "cni" / "bin"), "--conf-dir",
                 str(d / "cni" / "net.d"), "--socket", str(sock)],
        ))  # fmt: skip
    for s in cfg.subnets:
        if s.legacy is None:
            continue
        name = s.subnet.name
        specs.append(Spec(
            f"legacy-{name}", 1,
            [PY, "-m", "lab.cluster.legacy", "--netns", legacy_netns[name], "--port", str(s.legacy.port),
             "--allow-file", str(run.legacy_allow(name)), "--decisions", str(run.legacy_decisions(name))],
        ))  # fmt: skip
    sched = scheduler_config(run, ports["extender"] if have_extender else None)
    specs.append(
        Spec("scheduler", 2, [PY, "-m", "lab.cli", "scheduler", "--kubeconfig", kc, "--config", str(sched)])
    )
    specs.append(Spec("workloads", 2, [PY, "-m", "lab.cli", "workloads", "--kubeconfig", kc]))
    for n in cfg.nodes:
        d = run.node(n.name)
        argv = [
            PY, "-m", "lab.kubelet.cli", "--node", n.name, "--node-ip", str(n.ip), "--kubeconfig", kc,
            "--netns-prefix", run.prefix, "--cni-conf-dir", str(d / "cni" / "net.d"),
            "--cni-bin-dir", str(d / "cni" / "bin"), "--state-dir", str(d / "sandboxes"),
            "--label", f"{L2_LABEL}={n.domain}", "--label", f"fip.io/mode={n.mode}",
            "--annotation", f"fip.io/parent={UPLINK}", "--healthz-port", str(ports[f"kubelet-{n.name}"]),
        ]  # fmt: skip
        if not have_extender:
            argv += ["--capacity", "fip.io/ip=110"]
        specs.append(Spec(f"kubelet-{n.name}", 2, argv, {"http": ports[f"kubelet-{n.name}"]}))
    fault = os.environ.get(FAULT, "")
    for spec in specs:
        if spec.name == fault:  # the test hook: this component exits at once, with a message
            spec.argv = [
                PY,
                "-c",
                f"import sys; sys.exit('{FAULT}={fault}: this component fails on purpose')",
            ]
    return specs


def store_url(cfg: LabConfig, ports: dict[str, int]) -> str:
    """The URL every component gets: the primary, or the Sentinel that names it."""
    if cfg.redis == "sentinel":
        return f"redis+sentinel://127.0.0.1:{ports['sentinel']}/{SENTINEL_MASTER}"
    return f"redis://127.0.0.1:{ports['redis']}/0"


def _redis(name: str, port: int, run: RunDir, *extra: str) -> list[str]:
    return ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(run.mkdir(name)),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes",
            "--daemonize", "no", *extra]  # fmt: skip


def _follow_sentinel(argv: list[str], port: int, sentinel: int, first: list[str]) -> list[str]:
    """`argv` started as the Sentinel says, as deploy/redis/sentinel's start script does: a
    replica of the master it names, or the master itself when it names this server; `first`
    (the initial role's extra flags) while no Sentinel answers (the lab's first start). Without
    this a promoted replica restarted with its original `--replicaof` and the demoted old master
    made each other replicas, and no master was left (seen in chaos)."""
    ask = (
        f"m=$(redis-cli -p {sentinel} sentinel get-master-addr-by-name {SENTINEL_MASTER} "
        "2>/dev/null | sed -n 2p); "
    )
    run = " ".join(shlex.quote(a) for a in argv)
    fallback = " ".join(shlex.quote(a) for a in first)
    script = (
        ask + f'if [ -z "$m" ]; then exec {run} {fallback}; '
        f'elif [ "$m" = "{port}" ]; then exec {run}; '
        f'else exec {run} --replicaof 127.0.0.1 "$m"; fi'
    )
    return ["sh", "-c", script]


def redis_specs(cfg: LabConfig, run: RunDir, ports: dict[str, int]) -> list[Spec]:
    """Standalone: one redis-server with its AOF. Sentinel: a primary, a replica of it and one
    Sentinel (quorum 1, down-after 3 s) that fails over to the replica; both data nodes keep an
    AOF, and each one (re)starts in the role the Sentinel gives it (`_follow_sentinel`)."""
    if cfg.redis != "sentinel":
        return [Spec("redis", 0, _redis("redis", ports["redis"], run), {"redis": ports["redis"]})]
    primary = str(ports["redis"])
    sentinel = ports["sentinel"]
    specs = [
        Spec(
            "redis",
            0,
            _follow_sentinel(_redis("redis", ports["redis"], run), ports["redis"], sentinel, []),
            {"redis": ports["redis"]},
        ),
        Spec(
            "redis-replica",
            0,
            _follow_sentinel(
                _redis("redis-replica", ports["redis-replica"], run),
                ports["redis-replica"],
                sentinel,
                ["--replicaof", "127.0.0.1", primary],
            ),
            {"redis": ports["redis-replica"]},
        ),
    ]
    conf = run.mkdir("sentinel") / "sentinel.conf"
    if not conf.exists():  # the Sentinel rewrites it with what it learns
        conf.write_text(
            f"bind 127.0.0.1\nport {ports['sentinel']}\ndir {conf.parent}\n"
            f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {primary} 1\n"
            f"sentinel down-after-milliseconds {SENTINEL_MASTER} 3000\n"
            f"sentinel failover-timeout {SENTINEL_MASTER} 10000\n"
        )
    specs.append(
        Spec("sentinel", 0, ["redis-server", str(conf), "--sentinel"], {"sentinel": ports["sentinel"]})
    )
    return specs


def port_names(cfg: LabConfig) -> list[str]:
    names = ["redis", "apiserver", "extender", "controllers"]
    if cfg.redis == "sentinel":
        names += ["redis-replica", "sentinel"]
    for n in cfg.nodes:
        names += [f"fipd-{n.name}", f"kubelet-{n.name}"]
    return names
