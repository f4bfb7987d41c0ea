"""The lab control plane around the REAL fip-extender: Redis, the fake API server, fipctl-applied
subnets, `fip-extender` under gunicorn as a subprocess, and the lab scheduler loading
deploy/kube-scheduler/scheduler-config.yaml with its urlPrefix pointed at the subprocess.

The shipped configuration is used as is, except for the URL (loopback HTTP instead of the
in-cluster HTTPS Service) and the TLS block that goes with it; tests/e2e/test_extender_tls.py
covers mutual TLS separately.
"""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import yaml

from fip.kube.client import KubeClient
from fip.kube.resources import NODES, PODS
from lab.apiserver import APIServer
from lab.extenderproc import Extender
from lab.redisproc import RedisServer
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
