"""ClusterIP benchmark: `fip-lab bench clusterip [--json PATH]`.

Short connections (one HTTP request per TCP connection, wrk with `Connection: close`) from a pod
to a ClusterIP while 100, 1,000 and 10,000 Services are defined, side by side in one run:

    tc        macvlan pod on n1, fip's tc programs on its eth0 (bpf/tc_egress.c, tc_ingress.c)
    sock      macvlan pod on n1, fip's cgroup connect4 program (socket mode), no tc programs
    iptables  bridge-mode pod on n3 (fip's bridge driver: veth into fipbr0), kube-proxy's
              iptables mode as it stands on a node: KUBE-SERVICES / KUBE-SVC-* / KUBE-SEP-* chains
              in n3's namespace loaded with iptables-restore (Debian's iptables 1.8, nf_tables
              backend), bridged pod traffic through them (br_netfilter, bridge-nf-call-iptables=1)
    direct    macvlan pod on n1 without programs, connecting to the backend's IP (the limit)

The backend is one macvlan pod on n2 running a small C responder (clusterip_httpd.c, built with
cc, 2 worker processes per port), so the web server is not what is measured. Every Service points
at it; the measured one sits in the middle of KUBE-SERVICES (kube-proxy checks that chain rule by
rule: the first packet of each connection walks half of it).

Each Service count gets its own setup, all built before measuring: its own datapath (compiled
programs, pinned maps, cgroup) with its own tc and socket-mode pods, and its own kube-proxy node
(k0, k1, k2) with a bridge pod. So every point can be measured in alternation: after a warm-up,
FIP_BENCH_CLUSTERIP_ROUNDS (default 9) rounds visit every (count, mode) point, in a shuffled
order, for FIP_BENCH_CLUSTERIP_SECONDS (default 1) of wrk each (1 thread,
FIP_BENCH_CLUSTERIP_CONNS = 8 connections). Rates are medians over rounds; ratios are medians of
per-round ratios (two points of one round are seconds apart: the lab machine is shared, and a slow
moment moves both).

Figures: `<mode>_rps_<n>` and `<mode>_p50_us_<n>` / `<mode>_p99_us_<n>` (request latency as wrk
reports it: connect + request + response); `tc_vs_iptables_10k`, `sock_vs_iptables_10k` (rate
ratios at 10,000 Services), `tc_vs_direct`, `sock_vs_direct` (at 10,000), `tc_flatness`,
`sock_flatness` (rate at 10,000 over rate at 100); `<mode>_p50_speedup_vs_iptables_10k` and
`<mode>_p50_speedup_vs_direct` (median request latency of the other path over fip's).
Targets: the best fip mode >= 2.0 against iptables at 10k, >= 0.9 against direct, flatness >= 0.9.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from bpf import netns, tc
from bpf.loader import Datapath, Settings, remove_pins
from bpf.maps import desired, plan
from bridge.nsenter import write_sysctl
from lab.network import unique_prefix
from lab.servicelab import Pod, ServiceLab

HERE = Path(__file__).resolve().parent
SIZES = tuple(int(n) for n in os.environ.get("FIP_BENCH_CLUSTERIP_SIZES", "100,1000,10000").split(","))
SECONDS = float(os.environ.get("FIP_BENCH_CLUSTERIP_SECONDS", "1"))
CONNS = int(os.environ.get("FIP_BENCH_CLUSTERIP_CONNS", "8"))
ROUNDS = int(os.environ.get("FIP_BENCH_CLUSTERIP_ROUNDS", "9"))
CGROUP2 = "/sys/fs/cgroup/unified" if os.path.ismount("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
BACKEND, BACKEND_PORT = "10.0.1.10", 8080
POD_CIDR = "10.0.1.0/24"  # kube-proxy's --cluster-cidr: pod sources are not masqueraded
MODES = ("direct", "tc", "sock", "iptables")
LABEL = "kubernetes.io/service-name"


def vip(i: int) -> str:
    return str(IPv4Address("10.100.0.1") + i)  # inside 10.96.0.0/12, the pods' service route


def backend_port(n: int) -> int:
    """Each size talks to its own backend port. Why: a client's TCP timestamps carry an offset
    hashed from the *destination it connected to* (the VIP); the backend keeps TIME_WAIT
    entries (it closes first) with the last timestamp per 4-tuple, and a SYN reusing such a
    tuple with a smaller timestamp (another VIP's offset) is not accepted (PAWS): the client
    waits a 1 s SYN retransmission. With one port per size, sizes never share 4-tuples."""
    return BACKEND_PORT + SIZES.index(n)


def service_objects(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    services, slices = [], []
    for i in range(n):
        meta = {"namespace": "bench", "name": f"svc{i}"}
        ports = [{"name": "http", "port": 80, "protocol": "TCP"}]
        services.append(
            {"metadata": meta, "spec": {"clusterIP": vip(i), "clusterIPs": [vip(i)], "ports": ports}}
        )
        slices.append(
            {
                "metadata": {"namespace": "bench", "name": f"svc{i}-x", "labels": {LABEL: f"svc{i}"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": [BACKEND], "conditions": {"ready": True}}],
                "ports": [{"name": "http", "port": backend_port(n), "protocol": "TCP"}],
            }
        )
    return services, slices


def load_maps(dp: Datapath, n: int) -> float:
    started = time.perf_counter()
    current = dp.maps.read()
    services, slices = service_objects(n)
    ids = {fe: e.id for fe, e in current.services.items()}
    want = desired(services, slices, ids=ids, limits=dp.settings.limits)
    for step in plan(current, want.state):
        if step.op == "put":
            dp.maps.put(step.map, step.key, step.value)
        else:
            dp.maps.delete(step.map, step.key)
    return time.perf_counter() - started


def kube_proxy_rules(n: int) -> str:
    """The nat table kube-proxy (iptables mode) writes for n one-endpoint Services."""
    port = backend_port(n)
    chains = [
        ":KUBE-SERVICES - [0:0]",
        ":KUBE-MARK-MASQ - [0:0]",
        ":KUBE-POSTROUTING - [0:0]",
        ":KUBE-NODEPORTS - [0:0]",
    ]
    rules = [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
        "-j MASQUERADE --random-fully",
    ]
    for i in range(n):
        svc, sep, name = f"KUBE-SVC-{i:016X}", f"KUBE-SEP-{i:016X}", f"bench/svc{i}:http"
        chains += [f":{svc} - [0:0]", f":{sep} - [0:0]"]
        rules += [
            f'-A KUBE-SERVICES -d {vip(i)}/32 -p tcp -m comment --comment "{name} cluster IP" '
            f"-m tcp --dport 80 -j {svc}",
            f'-A {svc} ! -s {POD_CIDR} -d {vip(i)}/32 -p tcp -m comment --comment "{name} cluster IP" '
            "-m tcp --dport 80 -j KUBE-MARK-MASQ",
            f'-A {svc} -m comment --comment "{name} -> {BACKEND}:{port}" -j {sep}',
            f'-A {sep} -s {BACKEND}/32 -m comment --comment "{name}" -j KUBE-MARK-MASQ',
            f'-A {sep} -p tcp -m comment --comment "{name}" -m tcp -j DNAT --to-destination {BACKEND}:{port}',
        ]
    rules.append(
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be '
        'the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS'
    )
    return "*nat\n" + "\n".join(chains + rules) + "\nCOMMIT\n"


def load_iptables(node_netns: str, n: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["nsenter", f"--net=/var/run/netns/{node_netns}", "iptables-restore", "-w"],
        input=kube_proxy_rules(n),
        text=True,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


_UNITS = {"us": 1.0, "ms": 1000.0, "s": 1e6}


def wrk(lab: ServiceLab, pod: Pod, url: str, seconds: float, cgroup: str | None = None) -> dict[str, float]:
    argv = [
        "wrk",
        "-t1",
        f"-c{CONNS}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-H",
        "Connection: close",
        url,
    ]
    out = lab.run(pod, *argv, cgroup=cgroup, timeout=seconds + 30)
    if out.returncode != 0:
        raise RuntimeError(f"wrk from {pod.name} to {url} failed: {out.stderr or out.stdout}")
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    lat = {q: _us(re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)", text, re.M)) for q in ("50", "99")}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    bad = sum(int(g) for g in errors.groups()) if errors else 0
    bad += int(non2xx.group(1)) if non2xx else 0
    if rps == 0 or bad > rps * seconds * 0.01:
        raise RuntimeError(f"wrk from {pod.name} to {url}: {bad} errors\n{text}")
    return {"rps": rps, "p50_us": lat["50"], "p99_us": lat["99"]}


def _us(found: re.Match[str] | None) -> float:
    return float(found.group(1)) * _UNITS[found.group(2)] if found else 0.0


def build_httpd(tmp: Path) -> Path:
    binary = tmp / "httpd"
    subprocess.run(["cc", "-O2", "-o", str(binary), str(HERE / "clusterip_httpd.c")], check=True)
    return binary


class SizeSetup:
    """Everything one Service count needs, built side by side with the other sizes' so that all
    points can be measured in alternation: its own datapath (pins), cgroup, tc and socket-mode
    pods on n1, and a kube-proxy node (bridge mode) with its pod."""

    def __init__(self, lab: ServiceLab, n: int, index: int) -> None:
        self.n = n
        self.pins = f"/sys/fs/bpf/fip-bench-{secrets.token_hex(4)}"
        self.cgroup = os.path.join(CGROUP2, f"fip-bench-{secrets.token_hex(4)}")
        self.dp = Datapath.open(Settings(pin_dir=self.pins, services_max=n + 64, backends_max=n + 64))
        os.mkdir(self.cgroup)
        self.dp.attach_cgroup(self.cgroup)
        self.tc = lab.pod(f"tc{n}", "n1", 20 + index)
        self.sock = lab.pod(f"sock{n}", "n1", 40 + index)
        self.node = lab.nodes[f"k{index}"].netns
        self.ipt = lab.pod(f"ipt{n}", f"k{index}", 60 + index, mode="bridge")
        tc.attach(self.tc.path, "eth0", *self.dp.tc_fds())
        self.dp.maps.add_pod(netns.cookie(self.sock.path))
        # what a kube-proxy node has: forwarding on, bridged pod traffic through iptables, and a
        # route to the pods' subnet over the bridge (fip bridge mode: the node is on the pods' L2)
        write_sysctl(self.node, "net.bridge.bridge-nf-call-iptables", "1")
        write_sysctl(self.node, "net.ipv4.ip_forward", "1")
        route = ["ip", "route", "add", POD_CIDR, "dev", "fipbr0"]
        subprocess.run(["nsenter", f"--net=/var/run/netns/{self.node}", *route], check=True)

    def close(self) -> None:
        self.dp.detach_cgroup(self.cgroup)
        os.rmdir(self.cgroup)
        self.dp.close()
        remove_pins(self.pins)


def run(json_path: str | None) -> dict[str, float]:
    figures: dict[str, float] = {}
    setups: list[SizeSetup] = []
    with tempfile.TemporaryDirectory(prefix="fip-bench-clusterip-") as tmp:
        httpd = build_httpd(Path(tmp))
        nodes = ("n1", "n2", *(f"k{i}" for i in range(len(SIZES))))
        try:
            with ServiceLab(unique_prefix("fipbench"), nodes=nodes) as lab:
                backend = lab.pod("backend", "n2", 10)
                for n in SIZES:
                    proc = lab.popen(backend, [str(httpd), str(backend_port(n)), "2"])
                    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
                direct = lab.pod("direct", "n1", 11)
                for i, n in enumerate(SIZES):
                    setups.append(SizeSetup(lab, n, i))
                    figures[f"maps_load_s_{n}"] = load_maps(setups[-1].dp, n)
                    figures[f"iptables_load_s_{n}"] = load_iptables(setups[-1].node, n)
                figures.update(_measure(lab, direct, setups))
        finally:
            for setup in setups:
                setup.close()
    report(figures)
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return figures


def _points(direct: Pod, setup: SizeSetup) -> dict[str, tuple[Pod, str, str | None]]:
    target = f"http://{vip(setup.n // 2)}/"
    return {
        "direct": (direct, f"http://{BACKEND}:{backend_port(setup.n)}/", None),
        "tc": (setup.tc, target, None),
        "sock": (setup.sock, target, setup.cgroup),
        "iptables": (setup.ipt, target, None),
    }


def _measure(lab: ServiceLab, direct: Pod, setups: list[SizeSetup]) -> dict[str, float]:
    """Rounds of every (size, mode) point in turn; medians of rates, and medians of the per-round
    ratios (a ratio of two points measured seconds apart, so a slow moment of the shared machine
    moves both)."""
    points = {s.n: _points(direct, s) for s in setups}
    for modes in points.values():  # warm-up: ARP, conntrack, caches
        for pod, url, cgroup in modes.values():
            wrk(lab, pod, url, 1, cgroup)
    runs: dict[tuple[int, str], list[dict[str, float]]] = {(n, m): [] for n in points for m in MODES}
    for r in range(ROUNDS):
        order = [(n, m) for n in points for m in MODES]
        random.Random(r).shuffle(order)  # no point always follows the same neighbour
        for n, mode in order:
            pod, url, cgroup = points[n][mode]
            runs[(n, mode)].append(wrk(lab, pod, url, SECONDS, cgroup))
        line = "  ".join(f"{n}/{m} {runs[(n, m)][-1]['rps']:.0f}" for n in points for m in MODES)
        print(f"  round {r + 1}: {line}", file=sys.stderr, flush=True)
    figures: dict[str, float] = {}
    for (n, mode), got in runs.items():
        for key in ("rps", "p50_us", "p99_us"):
            figures[f"{mode}_{key}_{n}"] = statistics.median(g[key] for g in got)
    big, small = max(SIZES), min(SIZES)

    def ratio(a: tuple[int, str], b: tuple[int, str]) -> float:
        return statistics.median(x["rps"] / y["rps"] for x, y in zip(runs[a], runs[b], strict=True))

    for mode in ("tc", "sock"):
        figures[f"{mode}_vs_iptables_10k"] = ratio((big, mode), (big, "iptables"))
        figures[f"{mode}_vs_direct"] = ratio((big, mode), (big, "direct"))
        figures[f"{mode}_flatness"] = ratio((big, mode), (small, mode))
    figures["iptables_flatness"] = ratio((big, "iptables"), (small, "iptables"))
    for mode in ("tc", "sock"):  # latency (p50) as speed-ups: higher is better, like the rate ratios
        p50 = figures[f"{mode}_p50_us_{big}"]
        figures[f"{mode}_p50_speedup_vs_iptables_10k"] = figures[f"iptables_p50_us_{big}"] / p50
        figures[f"{mode}_p50_speedup_vs_direct"] = figures[f"direct_p50_us_{big}"] / p50
    best = max(("tc", "sock"), key=lambda m: figures[f"{m}_rps_{big}"])
    figures["targets_met"] = float(
        figures[f"{best}_vs_iptables_10k"] >= 2.0
        and figures[f"{best}_vs_direct"] >= 0.9
        and figures[f"{best}_flatness"] >= 0.9
    )
    return figures


def report(f: dict[str, float]) -> None:
    print(f"\nClusterIP short connections (median of {ROUNDS} x {SECONDS:g} s, {CONNS} connections, wrk)")
    print(f"{'services':>9} " + " ".join(f"{m + ' conn/s':>15}" for m in MODES))
    for n in SIZES:
        print(f"{n:>9} " + " ".join(f"{f[f'{m}_rps_{n}']:>15.0f}" for m in MODES))
    print(
        f"{'p50 us':>9} "
        + " ".join(f"{f[f'{m}_p50_us_{max(SIZES)}']:>15.0f}" for m in MODES)
        + "  (at the largest size)"
    )
    for key, target in (
        ("tc_vs_iptables_10k", ">= 2.0"),
        ("sock_vs_iptables_10k", ">= 2.0"),
        ("tc_vs_direct", ">= 0.9"),
        ("sock_vs_direct", ">= 0.9"),
        ("tc_flatness", ">= 0.9"),
        ("sock_flatness", ">= 0.9"),
    ):
        print(f"{key:<22} {f[key]:6.2f}   target {target} (best fip mode)")
    print(f"{'iptables_flatness':<22} {f['iptables_flatness']:6.2f}   (for comparison)")
    for key in (
        "tc_p50_speedup_vs_iptables_10k",
        "sock_p50_speedup_vs_iptables_10k",
        "tc_p50_speedup_vs_direct",
        "sock_p50_speedup_vs_direct",
    ):
        print(f"{key:<34} {f[key]:6.2f}   (median latency, no target)")
    print(f"targets met: {'yes' if f['targets_met'] else 'no'}")
