"""The lab control plane around the REAL fip-extender: Redis, the fake API server, fipctl-applied
subnets, `fip-extender` under gunicorn as a subprocess, and the lab scheduler loading
deploy/kube-scheduler/scheduler-config.yaml with its urlPrefix pointed at the subprocess.

The shipped configuration is used as is, except for the URL (loopback HTTP instead of the
in-cluster HTTPS Service) and the TLS block that goes with it; tests/e2e/test_extender_tls.py
covers mutual TLS separately.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from fip.kube.client import KubeClient
from fip.kube.resources import NODES, PODS
from lab.apiserver import APIServer
from lab.redisproc import RedisServer, free_port
from lab.scheduler.config import parse
from lab.scheduler.scheduler import Scheduler

REPO = pathlib.Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "kube-scheduler" / "scheduler-config.yaml"
BIN = pathlib.Path(sys.executable).parent


def fipctl(url: str, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [str(BIN / "fipctl"), *args, f"--redis-url={url}"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0:
        raise AssertionError(f"fipctl {' '.join(args)} failed ({out.returncode}): {out.stderr}")
    return out.stdout


def subnet_yaml(
    name: str,
    third: int,
    *,
    first: int = 10,
    last: int = 200,
    reserved: tuple[int, ...] = (),
    label: str = "fip.io/l2",
) -> str:
    doc: dict[str, Any] = {
        "apiVersion": "fip.io/v1",
        "kind": "Subnet",
        "metadata": {"name": name},
        "spec": {
            "cidr": f"10.20.{third}.0/24",
            "gateway": f"10.20.{third}.1",
            "vlan": third,
            "ranges": [f"10.20.{third}.{first}-10.20.{third}.{last}"],
            "nodeSelector": {"matchLabels": {label: name}},
        },
    }
    if reserved:
        doc["spec"]["reserved"] = [f"10.20.{third}.{i}" for i in reserved]
    return yaml.safe_dump(doc)


def pool_yaml(name: str, subnet: str, size: int, namespaces: list[str]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "fip.io/v1",
            "kind": "Pool",
            "metadata": {"name": name},
            "spec": {"subnet": subnet, "size": size, "namespaces": namespaces},
        }
    )


class Extender:
    """One fip-extender process (gunicorn master + workers) on a free loopback port."""

    def __init__(
        self,
        redis_url: str,
        kubeconfig: str,
        *,
        workers: int = 2,
        extra: tuple[str, ...] = (),
        log: pathlib.Path,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "fip-extender"), "--redis-url", redis_url, "--listen", f"127.0.0.1:{self.port}",
             "--kubeconfig", kubeconfig, "--workers", str(workers), "--refresh", "0.5", *extra],
            stdout=self._out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 30.0, probe: Callable[[], bool] | None = None) -> None:
        """Until /readyz answers 200 several times in a row (every worker must be ready, not
        just the one that answered)."""
        check = probe or self._ready_once
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"fip-extender exited {self.proc.returncode}: {self.log_tail()}")
            if all(self._quiet(check) for _ in range(6)):
                return
            time.sleep(0.2)
        raise AssertionError(f"fip-extender not ready after {timeout}s: {self.log_tail()}")

    @staticmethod
    def _quiet(check: Callable[[], bool]) -> bool:
        try:
            return check()
        except OSError:
            return False

    def _ready_once(self) -> bool:
        with urllib.request.urlopen(self.url + "/readyz", timeout=2) as resp:
            return bool(resp.status == 200)

    def post(
        self, path: str, body: object, *, raw: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = raw if raw is not None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def log_tail(self, n: int = 3000) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")[-n:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._out.close()


def scheduler_config(url: str, **changes: Any) -> dict[str, Any]:
    """deploy/kube-scheduler/scheduler-config.yaml with the extender at `url` (loopback HTTP)."""
    doc = yaml.safe_load(CONFIG.read_text())
    doc.pop("clientConnection", None)
    ext = dict(doc["extenders"][0])
    ext["urlPrefix"] = url
    ext.pop("tlsConfig", None)
    ext["enableHTTPS"] = False
    ext.update(changes)
    doc["extenders"] = [ext]
    return dict(doc)


class Lab:
    """Redis + API server + fip-extender(s) + lab scheduler, torn down by `close`."""

    def __init__(self, tmp: pathlib.Path) -> None:
        self.tmp = tmp
        self.stack = contextlib.ExitStack()
        self.redis = self.stack.enter_context(RedisServer())
        self.api = self.stack.enter_context(APIServer(host="127.0.0.1", port=0))
        self.kubeconfig = str(self.api.write_kubeconfig(tmp / "kubeconfig"))
        self.client = KubeClient.for_server(self.api.url)
        self.extenders: list[Extender] = []
        self.scheduler: Scheduler | None = None
        fipctl(self.redis.url, "init", "--yes")

    def apply(self, *docs: str) -> None:
        fipctl(self.redis.url, "subnets", "apply", "-f", "-", stdin="---\n".join(docs))

    def start_extender(
        self, workers: int = 2, extra: tuple[str, ...] = (), *, ready: bool = True
    ) -> Extender:
        log = self.tmp / f"extender{len(self.extenders)}.log"
        ext = Extender(self.redis.url, self.kubeconfig, workers=workers, extra=extra, log=log)
        self.extenders.append(ext)
        self.stack.callback(ext.stop)
        if ready:
            ext.wait_ready()
        return ext

    def start_scheduler(self, ext: Extender, **changes: Any) -> Scheduler:
        cfg = parse(scheduler_config(ext.url + "/fip", **changes))
        sched = Scheduler(self.client, cfg, seed=1)
        sched.start()
        self.scheduler = sched
        self.stack.callback(sched.stop)
        return sched

    def add_node(self, name: str, cpu: str = "4", **labels: str) -> None:
        self.client.create(
            NODES,
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
                "status": {
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                    "addresses": [{"type": "Hostname", "address": name}],
                },
            },
        )

    def pods(self, namespace: str = "default") -> list[dict[str, Any]]:
        return list(self.client.list(PODS, namespace)["items"])

    def close(self) -> None:
        self.stack.close()
        self.client.close()


@contextlib.contextmanager
def lab() -> Iterator[Lab]:
    with tempfile.TemporaryDirectory(prefix="fip-extender-e2e-") as tmp:
        world = Lab(pathlib.Path(tmp))
        try:
            yield world
        finally:
            world.close()
