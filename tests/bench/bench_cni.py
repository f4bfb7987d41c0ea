"""CNI latency benchmark: `fip-lab bench cni [--json PATH]`.

fip (the installed single-file `fip-cni` -> fipd over its unix socket -> the bridge/ driver)
against Debian's reference plugins (containernetworking-plugins in /usr/lib/cni) doing the same
job in the same namespaces, in one run:

    bridge mode   fip bridge on node n1 (uplink eth1)   vs  `bridge` + `host-local` on n1
    macvlan mode  fip macvlan on node n2 (parent eth1)  vs  `macvlan` + `host-local` on n2

For each mode, N pods (default 200, env FIP_BENCH_CNI_PODS) get a fresh network namespace each;
ADD alternates fip / reference pod by pod, then DEL alternates the same way, with a pause
(FIP_BENCH_CNI_SETTLE_MS, default 50) after every invocation: work a plugin leaves running after
it answered (fipd's gratuitous ARP thread, the kernel's RCU clean-up after fip's DEL answered on
the link's removal announcement, see bridge/unlink.py) must not land in the next plugin's timing.
Every invocation is a real exec with containerd's environment and stdin, timed from spawn to
exit, from a thread that has entered the node's namespace (where the reference plugins must run;
fip-cni does not care). Each plugin does a few warm-up ADD/DEL pairs first (bridge and
sub-interface creation).

fipd runs as the real daemon (one per node, `--host-netns`), reading pods from the lab's fake
API server in this process through its pod watch; `--garp-count 1` matches the single
gratuitous ARP the reference plugins send. host-local keeps its leases under a temp dir.

Figures: medians and p99 per plugin and command; `add_ratio_<mode>` / `del_ratio_<mode>` = fip
median / reference median (target <= 1.0 each); plus where fip's time goes: the plugin's bare start
(VERSION), a full round trip through fipd that plugs nothing (DEL of an unknown container), and
fipd's own ADD / DEL time and the driver's share of it (from fipd's log lines).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bridge import netlink
from fipd.install import install_plugin
from lab.apiserver import APIServer
from lab.network import LabNetwork, unique_prefix

REF_DIR = Path("/usr/lib/cni")
FIPD = Path(sys.executable).with_name("fipd")
CLONE_NEWNET = 0x40000000
WARMUP = 5
MODES = {
    # mode: (node, fip subnet, fip gateway, reference subnet, reference gateway)
    "bridge": ("n1", "10.1.0.0/16", "10.1.0.1", "10.3.0.0/16", "10.3.0.1"),
    "macvlan": ("n2", "10.2.0.0/16", "10.2.0.1", "10.4.0.0/16", "10.4.0.1"),
}
_libc = ctypes.CDLL(None, use_errno=True)


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the body with this thread in netns `name` (children spawned there inherit it)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netlink.netns_path(name), os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name} failed")
        yield
    finally:
        _libc.setns(own, CLONE_NEWNET)
        os.close(target)
        os.close(own)


def timed(argv: list[str], env: dict[str, str], stdin: str, netns: str) -> tuple[float, str]:
    with in_netns(netns):
        start = time.perf_counter()
        run = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(
            f"{argv[0]} {env.get('CNI_COMMAND')} failed ({run.returncode}): {run.stdout} {run.stderr}"
        )
    return elapsed * 1000, run.stdout


UIDS: dict[str, str] = {}  # pod name -> UID, for K8S_POD_UID as containerd passes it


def cni_env(command: str, cid: str, netns: str, pod: str, cni_path: str) -> dict[str, str]:
    return {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": cid,
        "CNI_NETNS": netlink.netns_path(netns),
        "CNI_IFNAME": "eth0",
        "CNI_PATH": cni_path,
        "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME={pod};"
        f"K8S_POD_INFRA_CONTAINER_ID={cid};K8S_POD_UID={UIDS.get(pod, '')}",
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    }


def reference_conf(mode: str, subnet: str, gateway: str, data_dir: Path) -> str:
    ipam = {
        "type": "host-local",
        "ranges": [[{"subnet": subnet, "gateway": gateway}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": str(data_dir),
    }
    conf: dict[str, Any] = {"cniVersion": "1.0.0", "name": f"ref-{mode}", "type": mode, "ipam": ipam}
    if mode == "bridge":
        conf |= {"bridge": "refbr0", "isGateway": False, "ipMasq": False}
    else:
        conf |= {"master": "eth1", "mode": "bridge"}
    return json.dumps(conf)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


class Fipd:
    def __init__(self, root: Path, kubeconfig: Path, mode: str, node: str, netns: str) -> None:
        self.socket = root / f"fipd-{mode}.sock"
        self.log = root / f"fipd-{mode}.log"
        argv = [
            str(FIPD), "--kubeconfig", str(kubeconfig), "--node", node, "--mode", mode, "--parent", "eth1",
            "--host-netns", netns, "--socket", str(self.socket), "--state-dir", str(root / f"state-{mode}"),
            "--garp-count", "1", "--annotation-timeout", "5",
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fipd ({mode}) did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        time.sleep(0.5)  # let the pod cache finish its first list

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)

    def timings(self, command: str) -> tuple[list[float], list[float]]:
        total, driver = [], []
        for line in self.log.read_text().splitlines():
            m = re.search(rf" {command} .* in ([0-9.]+) ms(?: \(driver ([0-9.]+) ms\))?", line)
            if m:
                total.append(float(m.group(1)))
                if m.group(2):
                    driver.append(float(m.group(2)))
        return total, driver


def bench_mode(
    mode: str,
    n: int,
    *,
    net: LabNetwork,
    api: APIServer,
    fipd: Fipd,
    plugin: Path,
    root: Path,
    made: list[str],
) -> dict[str, float]:
    """One mode's figures. Pod namespaces are appended to `made` as they are created (the
    caller removes them, also after a failure)."""
    node, fip_subnet, fip_gw, ref_subnet, ref_gw = MODES[mode]
    node_ns = net.nodes[node].netns
    prefix = int(fip_subnet.split("/")[1])
    base = fip_subnet.split(".")[:2]
    fip_conf = json.dumps(
        {"cniVersion": "1.0.0", "name": "fip", "type": "fip-cni", "socket": str(fipd.socket)}
    )
    ref_conf = reference_conf(mode, ref_subnet, ref_gw, root / f"hostlocal-{mode}")
    total = n + WARMUP
    for i in range(total):
        ip = f"{base[0]}.{base[1]}.{i // 250}.{i % 250 + 2}"
        alloc = {"ip": ip, "prefix": prefix, "gateway": fip_gw, "vlan": 0, "subnet": f"bench-{mode}",
                 "owner": f"bench/Pod/{mode}-{i}"}  # fmt: skip
        meta = {
            "name": f"{mode}-{i}",
            "namespace": "bench",
            "annotations": {"fip.io/allocation": json.dumps(alloc)},
        }
        spec = {
            "nodeName": node,
            "containers": [{"name": "c", "image": "pause", "resources": {"limits": {"fip.io/ip": "1"}}}],
        }
        created = api.storage.create("pods", {"metadata": meta, "spec": spec})
        UIDS[f"{mode}-{i}"] = str(created["metadata"]["uid"])
    time.sleep(0.5)  # the watch delivers the pods to fipd's cache
    plugins: dict[str, Callable[[str, str, str, str], tuple[float, str]]] = {
        "fip": lambda cmd, cid, ns, pod: timed(
            [str(plugin)], cni_env(cmd, cid, ns, pod, str(plugin.parent)), fip_conf, node_ns
        ),
        "ref": lambda cmd, cid, ns, pod: timed(
            [str(REF_DIR / mode)], cni_env(cmd, cid, ns, pod, str(REF_DIR)), ref_conf, node_ns
        ),
    }
    times: dict[str, list[float]] = {f"{who}_{cmd}": [] for who in plugins for cmd in ("add", "del")}
    pods: list[tuple[str, str, str, str]] = []
    for i in range(total):
        for who in plugins:
            ns = f"{net.prefix}-{mode[0]}{who[0]}{i}"
            netlink.create_netns(ns)
            made.append(ns)
            pods.append((who, f"{who}{mode}{i:04d}{uuid.uuid4().hex[:8]}", ns, f"{mode}-{i}"))
    settle = float(os.environ.get("FIP_BENCH_CNI_SETTLE_MS", "50")) / 1000
    for k, (who, cid, ns, pod) in enumerate(pods):
        ms, out = plugins[who]("ADD", cid, ns, pod)
        if json.loads(out).get("ips") is None:
            raise RuntimeError(f"{who} ADD returned no IP: {out}")
        if k >= 2 * WARMUP:
            times[f"{who}_add"].append(ms)
        time.sleep(settle)  # what either plugin left running (fipd's GARP, the kernel's clean-up) ends
    for k, (who, cid, ns, pod) in enumerate(pods):
        ms, _ = plugins[who]("DEL", cid, ns, pod)
        if k >= 2 * WARMUP:
            times[f"{who}_del"].append(ms)
        time.sleep(settle)
    figures: dict[str, float] = {}
    for key, values in times.items():
        figures[f"{mode}_{key}_median_ms"] = statistics.median(values)
        figures[f"{mode}_{key}_p99_ms"] = pct(values, 99)
    for cmd in ("add", "del"):
        figures[f"{cmd}_ratio_{mode}"] = (
            figures[f"{mode}_fip_{cmd}_median_ms"] / figures[f"{mode}_ref_{cmd}_median_ms"]
        )
    # where fip's time goes
    version = [
        timed([str(plugin)], {"CNI_COMMAND": "VERSION"}, '{"cniVersion":"1.0.0"}', node_ns)[0]
        for _ in range(50)
    ]
    ref_version = [
        timed([str(REF_DIR / mode)], {"CNI_COMMAND": "VERSION"}, '{"cniVersion":"1.0.0"}', node_ns)[0]
        for _ in range(50)
    ]
    bare = [timed(["/usr/bin/python3", "-IS", "-c", "pass"], {}, "", node_ns)[0] for _ in range(50)]
    noop = [plugins["fip"]("DEL", f"unknown{i}", pods[0][2], "x")[0] for i in range(50)]
    figures[f"{mode}_python_bare_start_ms"] = statistics.median(bare)
    figures[f"{mode}_fip_plugin_start_ms"] = statistics.median(version)
    figures[f"{mode}_ref_plugin_start_ms"] = statistics.median(ref_version)
    figures[f"{mode}_fip_roundtrip_noop_ms"] = statistics.median(noop)
    add_total, add_driver = fipd.timings("ADD")
    del_total, _ = fipd.timings("DEL")
    figures[f"{mode}_fipd_add_ms"] = statistics.median(add_total[WARMUP:])
    figures[f"{mode}_fipd_driver_add_ms"] = statistics.median(add_driver[WARMUP:])
    figures[f"{mode}_fipd_del_ms"] = statistics.median(del_total[WARMUP:])
    return figures


def run(json_path: str | None) -> dict[str, float]:
    n = int(os.environ.get("FIP_BENCH_CNI_PODS", "200"))
    for binary in ("bridge", "macvlan", "host-local"):
        if not (REF_DIR / binary).exists():
            raise RuntimeError(f"{REF_DIR / binary} missing: apt-get install containernetworking-plugins")
    root = Path(f"/tmp/fipbench-cni-{uuid.uuid4().hex[:6]}")
    root.mkdir()
    fipds: list[Fipd] = []
    made: list[str] = []
    figures: dict[str, float] = {"pods": float(n)}
    try:
        with LabNetwork(unique_prefix("fipbench")) as net, APIServer(port=0) as api:
            net.add_switch("sw")
            kubeconfig = api.write_kubeconfig(root / "kubeconfig")
            api.storage.create("namespaces", {"metadata": {"name": "bench"}})
            plugin = install_plugin(root / "bin")
            for mode, (node, subnet, gw, _, _) in MODES.items():
                net.add_node(node, "sw")
                api.storage.create("nodes", {"metadata": {"name": node, "labels": {"fip.io/l2": mode}}})
                spec = {"cidr": subnet, "gateway": gw, "nodeSelector": {"matchLabels": {"fip.io/l2": mode}}}
                api.storage.create(
                    "subnets",
                    {
                        "apiVersion": "fip.io/v1",
                        "kind": "Subnet",
                        "metadata": {"name": f"bench-{mode}"},
                        "spec": spec,
                    },
                )
            for mode, (node, *_rest) in MODES.items():
                fipd = Fipd(root, kubeconfig, mode, node, net.nodes[node].netns)
                fipds.append(fipd)
                try:
                    figures |= bench_mode(
                        mode, n, net=net, api=api, fipd=fipd, plugin=plugin, root=root, made=made
                    )
                finally:
                    fipd.stop()  # before the API server goes: its watch ends cleanly
                    while made:
                        netlink.remove_netns(made.pop())
    finally:
        for fipd in fipds:
            fipd.stop()
        shutil.rmtree(root, ignore_errors=True)
    ratios = [figures[f"{c}_ratio_{m}"] for c in ("add", "del") for m in MODES]
    figures["targets_met"] = 1.0 if all(r <= 1.0 for r in ratios) else 0.0
    report(figures)
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return figures


def report(f: dict[str, float]) -> None:
    print(f"CNI latency, {int(f['pods'])} pods per plugin and mode (ms; fip = fip-cni -> fipd -> driver)")
    heads = ("fip med", "fip p99", "ref med", "ref p99")
    print(f"{'mode':<8} {'cmd':<4} " + " ".join(f"{h:>8}" for h in heads) + f" {'ratio':>6}  target")
    for mode in MODES:
        for cmd in ("add", "del"):
            ratio = f[f"{cmd}_ratio_{mode}"]
            cells = [
                f[f"{mode}_{who}_{cmd}_{stat}_ms"] for who in ("fip", "ref") for stat in ("median", "p99")
            ]
            print(
                f"{mode:<8} {cmd.upper():<4} "
                + " ".join(f"{c:8.1f}" for c in cells)
                + f" {ratio:6.2f}  <= 1.0 {'ok' if ratio <= 1.0 else 'MISSED'}"
            )
    print("where fip's time goes (medians, ms):")
    for mode in MODES:
        print(
            f"  {mode:<8} plugin start {f[f'{mode}_fip_plugin_start_ms']:.1f} (bare python3 -IS "
            f"{f[f'{mode}_python_bare_start_ms']:.1f}; reference {f[f'{mode}_ref_plugin_start_ms']:.1f})"
            f" | no-op round trip via fipd {f[f'{mode}_fip_roundtrip_noop_ms']:.1f}"
            f" | fipd ADD {f[f'{mode}_fipd_add_ms']:.1f}, driver {f[f'{mode}_fipd_driver_add_ms']:.1f}"
            f" | fipd DEL {f[f'{mode}_fipd_del_ms']:.1f}"
        )
    print(f"targets met: {'yes' if f['targets_met'] else 'no'}")


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else None)
