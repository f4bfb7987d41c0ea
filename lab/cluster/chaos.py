"""Chaos on a running `fip-lab up`: workloads churn while components die, then the invariants.

    report = run(RunDir(path), seconds=240, target=2000)
    report.ok                    # every invariant and `fipctl check` held afterwards

Churn: Deployments `churn-<i>` (policy pod) scale between 0 and `BATCH` pods in rounds, and a
StatefulSet `keep` (immutable, 3 replicas) loses a random pod every round; an informer counts
every pod that got an allocation (distinct UIDs) and records, per `keep` ordinal, the IPs it ran
with. Faults, every 4-10 s, each kind at least once, then at random:

    kill-extender, kill-controllers, kill-fipd (a random node)   SIGKILL; the supervisor restarts it
    restart-redis        SIGKILL the Redis primary; restarted from its AOF (appendfsync always)
    flushall             total loss of Redis (once): the controllers must rebuild from the pods
    sentinel-failover    (lab with `redis: sentinel`, once) SENTINEL FAILOVER: the replica is
                         promoted, the clients follow the Sentinel, the controllers see a new run id
    drop-watches         every open watch of the API server ends (clients resume)
    compact              every older resourceVersion answers 410 (clients re-list)

After `seconds` (or `target` allocations, whichever is later, up to twice `seconds`) the churn
stops at a steady state and the checks run, with time to settle: the invariants of
`lab.cluster.invariants`, `fipctl check` clean, every `keep` ordinal back on its first IP
(unless a FLUSHALL fell between: a total loss forgets reservations of absent pods), and once
every workload is deleted, zero allocations.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fip.kube.client import KubeClient
from fip.kube.errors import KubeError
from fip.kube.informer import Informer
from fip.kube.resources import DEPLOYMENTS, PODS, STATEFULSETS
from lab.cluster import invariants
from lab.cluster.rundir import RunDir
from lab.cluster.supervisor import same_process
from lab.redisproc import RedisProcError, command
from lab.wait import WaitTimeout, wait_for

BATCH = 40
DEPLOYMENTS_N = 3
KINDS = (
    "kill-extender",
    "kill-controllers",
    "kill-fipd",
    "restart-redis",
    "flushall",
    "drop-watches",
    "compact",
)
SENTINEL_KINDS = ("sentinel-failover",)  # on a lab with `redis: sentinel`, once
Obj = dict[str, Any]


@dataclass
class Report:
    seconds: float = 0.0
    allocations: int = 0
    rounds: int = 0
    faults: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"{self.seconds:.0f} s, {self.allocations} allocations in {self.rounds} churn rounds, "
               f"{len(self.faults)} faults"]  # fmt: skip
        out += [f"  fault {f}" for f in self.faults]
        out += [f"  note: {n}" for n in self.notes]
        out += [f"  PROBLEM: {p}" for p in self.problems] or ["  every invariant and fipctl check held"]
        return out


def _template(app: str, policy: str) -> Obj:
    return {
        "metadata": {"labels": {"app": app, "chaos": "1"}, "annotations": {"fip.io/release-policy": policy}},
        "spec": {"containers": [{"name": "c", "image": "c:1", "resources": {"limits": {"fip.io/ip": "1"}}}]},
    }


class Chaos:
    def __init__(self, run: RunDir, seed: int | None = None) -> None:
        self.run = run
        self.client = KubeClient(str(run.kubeconfig), timeout=15.0)
        self.rng = random.Random(seed)  # noqa: S311  (chaos, not cryptography)
        self.stop = threading.Event()
        self.report = Report()
        self.seen: set[str] = set()
        self.keep_ips: dict[str, list[tuple[float, str]]] = {}  # ordinal name -> (time, IP) as it changed
        self.flushes: list[float] = []
        self._lock = threading.Lock()
        self.informer = Informer(self.client, PODS, "default", label_selector="chaos=1", name="chaos-pods")
        self.informer.add_handler(self._observe)

    # -- observation ------------------------------------------------------------------------------

    def _observe(self, kind: str, pod: Obj, old: Obj | None) -> None:
        meta = pod.get("metadata") or {}
        if kind == "DELETED" or not invariants.allocation(pod):
            return
        with self._lock:
            self.seen.add(str(meta.get("uid")))
            ip = (pod.get("status") or {}).get("podIP")
            name = str(meta.get("name"))
            if name.startswith("keep-") and ip and invariants.running(pod):
                history = self.keep_ips.setdefault(name, [])
                if not history or history[-1][1] != ip:
                    history.append((time.monotonic(), ip))

    # -- churn ------------------------------------------------------------------------------------

    def setup(self) -> None:
        for i in range(DEPLOYMENTS_N):
            meta = {"name": f"churn-{i}", "namespace": "default"}
            self.client.create(DEPLOYMENTS, {
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": f"churn-{i}"}},
                         "template": _template(f"churn-{i}", "pod")},
            })  # fmt: skip
        self.client.create(STATEFULSETS, {
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "keep", "namespace": "default"},
            "spec": {"replicas": 3, "serviceName": "keep", "podManagementPolicy": "Parallel",
                     "selector": {"matchLabels": {"app": "keep"}},
                     "template": _template("keep", "immutable")},
        })  # fmt: skip

    def _scale_all(self, replicas: int) -> None:
        for i in range(DEPLOYMENTS_N):
            self._retry(
                lambda i=i: self.client.patch(
                    DEPLOYMENTS, f"churn-{i}", {"spec": {"replicas": replicas}}, "default"
                )
            )

    def _retry(self, call: Any, attempts: int = 20) -> Any:
        for _ in range(attempts):
            try:
                return call()
            except KubeError:
                time.sleep(0.5)
        return None

    def _count(self, selector: str) -> tuple[int, int]:
        pods = [
            p
            for p in self.informer.items()
            if (p["metadata"].get("labels") or {}).get("app", "").startswith(selector)
        ]
        return len(pods), sum(1 for p in pods if invariants.running(p))

    def churn(self) -> None:
        while not self.stop.is_set():
            self._scale_all(BATCH)
            self._until(lambda: self._count("churn-") == (BATCH * DEPLOYMENTS_N,) * 2, 30)
            keep = [p for p in self.informer.items() if p["metadata"]["name"].startswith("keep-")]
            if keep:
                victim = self.rng.choice(keep)["metadata"]["name"]
                with contextlib.suppress(KubeError):
                    self.client.delete(PODS, victim, "default")
            self._scale_all(0)
            self._until(lambda: self._count("churn-")[0] == 0, 30)
            self.report.rounds += 1

    def _until(self, done: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.stop.is_set() and time.monotonic() < deadline and not done():
            time.sleep(0.2)

    # -- faults -----------------------------------------------------------------------------------

    def kinds(self) -> tuple[str, ...]:
        return KINDS + (SENTINEL_KINDS if self._sentinel() is not None else ())

    def _sentinel(self) -> int | None:
        url = str((self.run.read() or {}).get("redis_url", ""))
        if not url.startswith("redis+sentinel://"):
            return None
        return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])

    def _primary(self) -> int:
        """The port of the Redis primary now (the Sentinel's answer in sentinel mode)."""
        sentinel = self._sentinel()
        ports = (self.run.read() or {}).get("ports") or {}
        if sentinel is None:
            return int(ports["redis"])
        got = command(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "fip")
        if not isinstance(got, list) or len(got) != 2:
            raise RuntimeError(f"the Sentinel names no primary: {got!r}")
        return int(got[1])

    def faults(self) -> None:
        order = list(self.kinds())
        self.rng.shuffle(order)
        while not self.stop.wait(self.rng.uniform(4, 10)):
            once = ("flushall", *SENTINEL_KINDS)
            kind = order.pop() if order else self.rng.choice([k for k in self.kinds() if k not in once])
            try:
                detail = self.inject(kind)
            except (OSError, KeyError, RuntimeError, WaitTimeout) as err:
                detail = f"could not inject: {err}"
            self.report.faults.append(f"{time.strftime('%H:%M:%S')} {kind}: {detail}")

    def _running_pid(self, name: str) -> int:
        """The component's PID once it runs (it may still be in its restart back-off)."""

        def pid() -> int | None:
            c = ((self.run.read() or {}).get("components") or {}).get(name) or {}
            return int(c["pid"]) if same_process(c.get("pid"), c.get("start")) else None

        return wait_for(pid, 30, f"{name} running again", interval=0.2)

    def inject(self, kind: str) -> str:
        state = self.run.read() or {}
        comps, ports = state.get("components") or {}, state.get("ports") or {}
        if kind.startswith("kill-") or kind == "restart-redis":
            if kind == "kill-fipd":
                name = self.rng.choice(sorted(n for n in comps if n.startswith("fipd-")))
            elif kind == "restart-redis":
                primary = self._primary()
                name = next(n for n in ("redis", "redis-replica") if ports.get(n) == primary)
            else:
                name = {"kill-extender": "extender", "kill-controllers": "controllers"}[kind]
            pid = self._running_pid(name)
            os.kill(pid, signal.SIGKILL)
            return f"SIGKILL {name} (pid {pid})"
        if kind == "flushall":
            self.flushes.append(time.monotonic())
            primary = self._primary()
            return f"FLUSHALL on the primary :{primary}: {command(primary, 'FLUSHALL')}"
        if kind == "sentinel-failover":
            sentinel, before = self._sentinel(), self._primary()
            assert sentinel is not None

            def failover_accepted() -> bool:
                # NOGOODSLAVE: the replica is still re-linking after an earlier fault (or the
                # Sentinel has not seen it since); ask again until one is eligible
                try:
                    command(sentinel, "SENTINEL", "FAILOVER", "fip")
                except RedisProcError as err:
                    if "NOGOODSLAVE" not in str(err):
                        raise
                    return False
                return True

            wait_for(failover_accepted, 45, "a replica the Sentinel can promote", interval=0.5)
            try:
                wait_for(
                    lambda: self._primary() != before, 30, "the Sentinel to name a new primary", interval=0.2
                )
            except WaitTimeout as err:
                return f"SENTINEL FAILOVER: {err}"
            return f"SENTINEL FAILOVER: primary :{before} -> :{self._primary()}"
        op = {"drop-watches": "drop-watches", "compact": "compact"}[kind]
        conn = http.client.HTTPConnection("127.0.0.1", int(ports["apiserver"]), timeout=5)
        try:
            conn.request("POST", f"/_lab/{op}", body=b"{}", headers={"Content-Type": "application/json"})
            return f"POST /_lab/{op}: {conn.getresponse().status}"
        finally:
            conn.close()

    # -- the run ----------------------------------------------------------------------------------

    def run_for(self, seconds: float, target: int) -> Report:
        t0 = time.monotonic()
        self.informer.start()
        self.informer.wait_synced(30)
        self.setup()
        threads = [
            threading.Thread(target=f, daemon=True, name=f.__name__) for f in (self.churn, self.faults)
        ]
        for t in threads:
            t.start()
        while (
            not (time.monotonic() - t0 >= seconds and len(self.seen) >= target)
            and time.monotonic() - t0 < 2 * seconds
        ):
            time.sleep(1)
        self.stop.set()
        self.report.notes.append(f"churn stopped after {time.monotonic() - t0:.0f} s")
        for t in threads:
            t.join(timeout=60)
        self.report.allocations = len(self.seen)
        self.settle_and_check()
        self.report.seconds = time.monotonic() - t0
        self.informer.stop()
        return self.report

    def settle_and_check(self) -> None:
        cfg = invariants.config_of(self.run)
        url = invariants.redis_url(self.run)
        t0 = time.monotonic()

        def took(what: str) -> None:
            self.report.notes.append(f"{what} after {time.monotonic() - t0:.0f} s of settling")

        self._scale_all(5)
        try:
            steady = (5 * DEPLOYMENTS_N, 5 * DEPLOYMENTS_N)
            wait_for(lambda: self._count("churn-") == steady and self._count("keep") == (3, 3),
                     180, "the workloads Running again after the chaos", interval=0.5)  # fmt: skip
        except WaitTimeout as err:
            self.report.problems.append(str(err))
        took("workloads Running")
        last: list[str] = []

        def clean() -> bool:
            last[:] = invariants.check(self.client, self.run, cfg)
            code, out = invariants.fipctl_check(self.run, url)
            if code != 0:
                last.append(f"fipctl check (exit {code}): {out.strip()}")
            return not last

        try:
            wait_for(clean, 120, "the invariants and fipctl check to hold", interval=2.0)
        except WaitTimeout:
            self.report.problems += last
        took("invariants and fipctl check clean")
        self._sticky()
        for i in range(DEPLOYMENTS_N):
            self._retry(lambda i=i: self.client.delete(DEPLOYMENTS, f"churn-{i}", "default"))
        self._retry(lambda: self.client.delete(STATEFULSETS, "keep", "default"))
        try:
            wait_for(lambda: self._count("")[0] == 0, 120, "every chaos pod gone")
            wait_for(
                lambda: not invariants.allocations(url), 120, "zero allocations after zero pods", interval=1.0
            )
        except WaitTimeout as err:
            self.report.problems.append(f"{err}: {invariants.allocations(url)[:5]}")
        took("zero pods, zero allocations")

    def _sticky(self) -> None:
        for name, history in sorted(self.keep_ips.items()):
            for (t_old, ip_old), (t_new, ip_new) in itertools.pairwise(history):
                if any(t_old <= f <= t_new for f in self.flushes):
                    self.report.notes.append(
                        f"{name}: {ip_old} -> {ip_new} across the FLUSHALL (reservation lost)"
                    )
                else:
                    self.report.problems.append(f"{name} came back with {ip_new} instead of {ip_old}")


def run(run: RunDir, seconds: float = 240, target: int = 2000, seed: int | None = None) -> Report:
    return Chaos(run, seed).run_for(seconds, target)
