"""The demo's hands: the commands a user would type, printed as typed, and waiting with progress.

`Lab` wraps one `fip-lab up` in a run directory: `sh(...)` runs `fip-lab`, `kubectl` (the real
one, `.venv/bin/kubectl`, with the lab's kubeconfig) or `fipctl` as a subprocess, prints
`$ <command>` and its output indented, and fails the demo (DemoCheckFailed) on a non-zero exit
unless told otherwise. `wait(...)` polls with a progress line (rewritten in place on a
terminal, one line per change otherwise) and honours Ctrl-C between polls. `knock` and `http`
act from inside a pod's network namespace, as the pod's own process would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fip.kube.client import KubeClient
from fip.kube.resources import PODS
from lab.cluster import invariants
from lab.cluster.legacy import knock
from lab.cluster.rundir import RunDir
from lab.demo_console import DemoCheckFailed, checkpoint
from lab.kubelet.container import http_get
from lab.kubelet.sandboxes import netns_name

BIN = Path(sys.executable).parent
T = TypeVar("T")
Obj = dict[str, Any]


class Lab:
    def __init__(self, run_dir: Path) -> None:
        self.run = RunDir(run_dir)
        self._client: KubeClient | None = None

    # -- commands -------------------------------------------------------------------------------

    def sh(self, *argv: str, show: bool = True, check: bool = True, shown_as: str = "") -> str:
        """Run a command a user would type; print it and its output (indented)."""
        tool = argv[0]
        full = [str(BIN / tool), *argv[1:]]
        env = None
        if tool == "kubectl":
            full[1:1] = ["--kubeconfig", str(self.run.kubeconfig)]
        if tool == "fipctl":
            full[1:1] = ["--redis-url", invariants.redis_url(self.run)]
        checkpoint()
        print(f"  $ {shown_as or ' '.join(argv)}", flush=True)
        done = subprocess.run(full, capture_output=True, text=True, timeout=300, check=False, env=env)
        out = done.stdout.rstrip("\n")
        if show and out:
            print("\n".join(f"    {line}" for line in out.splitlines()), flush=True)
        if check and done.returncode != 0:
            raise DemoCheckFailed(
                f"`{' '.join(argv)}` failed (exit {done.returncode}): {done.stderr.strip()[-800:]}"
            )
        return done.stdout

    def up(self, config: Path | None) -> None:
        argv = ["fip-lab", "up", "--run-dir", str(self.run.root)] + (
            ["--config", str(config)] if config else []
        )
        checkpoint()
        print(f"  $ {' '.join(argv)}", flush=True)
        cmd = [str(BIN / argv[0]), *argv[1:]]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            print(f"    {line.rstrip()}", flush=True)
        if proc.wait() != 0:
            raise DemoCheckFailed("fip-lab up failed (its output is above)")

    def down(self) -> None:
        subprocess.run([str(BIN / "fip-lab"), "down", "--run-dir", str(self.run.root)], capture_output=True,
                       text=True, timeout=300, check=False)  # fmt: skip

    # -- reading the cluster --------------------------------------------------------------------

    @property
    def client(self) -> KubeClient:
        if self._client is None:
            self._client = KubeClient(str(self.run.kubeconfig))
        return self._client

    def pods(self, selector: str = "") -> list[Obj]:
        items = self.client.list(PODS, "default", label_selector=selector).get("items") or []
        return sorted(items, key=lambda p: p["metadata"]["name"])

    def running(self, selector: str = "") -> list[Obj]:
        return [p for p in self.pods(selector) if invariants.running(p) and p["status"].get("podIP")]

    def wait_running(self, selector: str, count: int, timeout: float = 90) -> list[Obj]:
        def progress() -> tuple[int, list[Obj] | None]:
            pods = [p for p in self.pods(selector) if not p["metadata"].get("deletionTimestamp")]
            ready = [p for p in pods if invariants.running(p) and p["status"].get("podIP")]
            return len(ready), (ready if len(ready) == count == len(pods) else None)

        return wait(f"pods {selector or '(all)'} Running with their IP", count, progress, timeout)

    def netns(self, pod: Obj) -> str:
        return netns_name(self.run.prefix, pod["metadata"]["uid"])

    def knock(self, pod: Obj, address: str, port: int) -> bool:
        try:
            return knock(self.netns(pod), address, port)
        except OSError:
            return False

    def http(self, pod: Obj, ip: str, port: int) -> Obj:
        return dict(json.loads(http_get(self.netns(pod), ip, port, timeout=3.0)))


def wait(what: str, total: int, probe: Callable[[], tuple[int, T | None]], timeout: float) -> T:
    """Poll `probe` -> (done so far, result or None) until a result; a progress line meanwhile."""
    tty = sys.stdout.isatty()
    t0 = time.monotonic()
    shown = -1
    while True:
        checkpoint()
        done, result = probe()
        elapsed = time.monotonic() - t0
        if tty or done != shown:
            count = f"{done}/{total}" if done <= total else f"{done} (want {total})"
            line = f"  ... waiting for {what}: {count} ({elapsed:.0f} s)"
            print(f"\r{line}" if tty else line, end="" if tty else "\n", flush=True)
            shown = done
        if result is not None:
            if tty:
                print(flush=True)
            return result
        if elapsed > timeout:
            if tty:
                print(flush=True)
            raise DemoCheckFailed(f"{what}: only {done}/{total} after {timeout:g} s")
        time.sleep(0.25)
