"""Shared pieces of the controllers' e2e tests: the subnet, the lab fixture, waits and checks."""

from __future__ import annotations

import io
import ipaddress
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fabric import NS, Lab, controllers, live_pod_ips

from fip.cli.fipctl import main as fipctl_main
from fip.core.record import AllocationRecord, IPState
from fip.core.subnet import IPRange, NodeSelection, Subnet
from fip.kube.resources import PODS
from fip.store.protocol import Store
from lab.wait import wait_for

SUBNET = Subnet(
    "dc1-a",
    ipaddress.ip_network("10.0.1.0/24"),
    ipaddress.ip_address("10.0.1.1"),
    ranges=(IPRange(ipaddress.ip_address("10.0.1.10"), ipaddress.ip_address("10.0.1.250")),),
    nodes=NodeSelection(match_labels=(("fip.io/l2", "dc1-a"),)),
)


def records(store: Store) -> list[AllocationRecord]:
    return store.by_subnet(SUBNET.name)


def by_ip(store: Store) -> dict[str, AllocationRecord]:
    return {str(r.ip): r for r in records(store)}


def check_clean(lab: Lab, grace: float = 0.0) -> dict[str, Any]:
    """`fipctl check` (the real verb, against the lab API server) exits 0; returns its JSON."""
    out, err = io.StringIO(), io.StringIO()
    code = fipctl_main(
        ["check", "--kubeconfig", lab.kubeconfig, "-o", "json", "--grace", str(grace)],
        environ={"FIP_REDIS_URL": "memory://x"},
        stdout=out,
        stderr=err,
        opener=lambda url, field: lab.store,
    )
    got: dict[str, Any] = json.loads(out.getvalue()) if out.getvalue() else {}
    assert code == 0, (got.get("problems"), err.getvalue())
    return got


def settle(
    lab: Lab, pods: dict[str, str] | Callable[[dict[str, str]], bool], n_records: int, timeout: float = 30
) -> dict[str, str]:
    """Wait until the live pods (name -> IP) are as wanted, every one bound in the store, and
    the store holds `n_records` records; returns the pod IPs."""

    def probe() -> tuple[dict[str, str]] | None:
        ips = live_pod_ips(lab.client)
        ok = pods(ips) if callable(pods) else set(ips) == set(pods)
        if not ok:
            return None
        recs = by_ip(lab.store)
        if len(recs) != n_records:
            return None
        for name, ip in ips.items():
            r = recs.get(ip)
            if r is None or r.state is not IPState.BOUND or r.pod_name != name:
                return None
        return (ips,)  # truthy even when no pod is left

    what = f"pods {pods if not callable(pods) else '(predicate)'} bound, {n_records} records"
    return wait_for(probe, timeout, what)[0]


def running_pods(lab: Lab) -> list[dict[str, Any]]:
    return [
        p for p in lab.client.list(PODS, NS).get("items") or [] if not p["metadata"].get("deletionTimestamp")
    ]


def lab_with_controllers(tmp: Path, store: Store, **kw: Any) -> Iterator[tuple[Lab, Any]]:
    with Lab(tmp, store, SUBNET, subnet_resource=True) as lab:
        ctl = controllers(lab, **kw)
        try:
            wait_for(
                lambda: SUBNET.name in {s.name for s in store.subnets()}, 20, "subnet synced into the store"
            )
            yield lab, ctl
        finally:
            ctl.stop()


def uid_of(lab: Lab, name: str) -> str | None:
    from fip.kube.errors import NotFound

    try:
        return str(lab.client.get(PODS, name, NS)["metadata"]["uid"])
    except NotFound:
        return None


def recreated(lab: Lab, name: str, old_uid: str, timeout: float = 20) -> str:
    return wait_for(
        lambda: ((u := uid_of(lab, name)) and u != old_uid and u) or None, timeout, f"{name} recreated"
    )


class ControllerProcess:
    """`fip-controllers` as a real process (the console script) against the lab and a Redis URL.
    Logs go to `log`; `kill()` is SIGKILL (no Lease release), `stop()` SIGTERM."""

    def __init__(self, lab: Lab, redis_url: str, log: Path, *, ident: str, period: float = 1.0) -> None:
        import shutil
        import subprocess
        import sys

        from lab.redisproc import free_port

        self.port = free_port()
        exe = shutil.which("fip-controllers", path=str(Path(sys.executable).parent)) or "fip-controllers"
        argv = [exe, "--redis-url", redis_url, "--kubeconfig", lab.kubeconfig,
                "--reconcile-period", str(period), "--grace", "1", "--listen", f"127.0.0.1:{self.port}",
                "--lease-namespace", "kube-system", "--id", ident, "--lease-duration", "3"]  # fmt: skip
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT)

    def ready(self) -> bool:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as resp:
            return str(resp.read().decode())

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._out.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()
        return int(self.proc.returncode)
