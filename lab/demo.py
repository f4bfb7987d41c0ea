"""`make demo` (`python -m lab.demo`): what fip can do today, shown honestly, in well under a minute.

1. IPAM: a throwaway redis-server on a free loopback port (no persistence), the example subnets
   loaded with `fipctl subnets apply`, the allocation life cycle played against the store.
2. Control plane (`lab.demo_cluster`): the lab kube-apiserver, scheduler and workload
   controllers in process; Subnet CRs, two nodes, a Deployment and a StatefulSet scheduled, a
   scale-down.
3. Datapath (`lab.demo_datapath`, root only): a lab network of namespaces, a real fipd per node,
   the installed fip-cni; a StatefulSet pod's floating IP pinged by a legacy host, then moved to
   the other node and reached again at once thanks to the gratuitous ARP.
It ends with the list of what is not built yet; where a missing component has a part in the
story, the demo does that part by hand and says so.

Every process it starts (redis-server, fipd) is stopped by PID, every namespace deleted, on
every exit path: success, failed check, error, Ctrl-C or SIGTERM. Exit codes: 0 success (also
when step 3 is skipped for lack of root), 1 a check failed or a component refused, 130
interrupted.

`--url URL` runs step 1 against another store (e.g. `memory://demo`) instead of starting Redis
(step 3 then needs a redis:// URL fipd can reach, else it is skipped); `--ipam-only` stops after
step 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from types import FrameType

from fip.cli.fipctl import main as fipctl_main
from fip.core.errors import FipError
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord
from fip.kube.errors import KubeError
from fip.store.factory import open_store
from fip.store.protocol import AllocateRequest, Store
from lab import demo_cluster, demo_datapath
from lab.demo_console import DemoCheckFailed, clear_stop_requests, note, request_stop, say
from lab.demo_nodes import node_lab
from lab.network import unique_prefix
from lab.redisproc import RedisServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "subnets.yaml"

NOT_BUILT = [
    "scheduler extender (filter / prioritize / bind) - the demo allocates and annotates by hand",
    "release controllers (free on scale-down / deletion, reconcile, rebuild after Redis loss, CRD status)"
    " - the demo reserves by hand",
    "eBPF ClusterIP datapath for pods that bypass the host stack",
    "kubelet stand-in and the whole-system lab wiring - the demo runs fip-cni and confirms deletions by hand",
    "fipctl check (Redis <-> Kubernetes <-> node consistency report)",
]


def fipctl(url: str, *argv: str) -> None:
    print(f"$ fipctl {' '.join(argv)}", flush=True)
    code = fipctl_main(["--redis-url", url, *argv])
    sys.stdout.flush()
    if code != 0:
        raise DemoCheckFailed(f"fipctl {' '.join(argv)} failed with exit code {code}")


def pod(
    store: Store, where: str, owner: str, uid: str, policy: ReleasePolicy, *, pool: str = ""
) -> AllocationRecord:
    """Allocate for pod `uid` of `owner`; `where` is "subnet/pod-name@node"."""
    subnet, _, rest = where.partition("/")
    name, _, node = rest.partition("@")
    req = AllocateRequest(subnet, OwnerKey.decode(owner), uid, name, node, policy, time.time(), pool=pool)
    rec = store.allocate(req)
    note(f"{name:<13} ({owner}) -> {rec.ip} in {subnet}")
    return rec


def ipam_story(store: Store, url: str) -> None:
    say("IPAM. A new Redis looks exactly like one that lost its data, so allocation waits to be told:")
    try:
        pod(store, "dc1-a/early@n1", "default/Pod/early", "u0", ReleasePolicy.POD)
    except FipError as err:
        note(f"refused: {err}")
    fipctl(url, "init", "--yes")
    fipctl(url, "subnets", "apply", "-f", os.path.relpath(EXAMPLES))

    say("The extender's bind would allocate these; pool db refuses namespace web:")
    api1 = pod(store, "dc1-a/api-7d9c-x2kq@node-a1", "default/Deployment/api", "uid-api-1", ReleasePolicy.POD)
    api2 = pod(store, "dc1-a/api-7d9c-p8rt@node-a2", "default/Deployment/api", "uid-api-2", ReleasePolicy.POD)
    web0 = pod(
        store, "dc1-b/web-0@node-b1", "default/StatefulSet/web/0", "uid-web0-a", ReleasePolicy.IMMUTABLE
    )
    psql = pod(
        store, "dc1-a/psql-0@node-a2", "db/StatefulSet/psql/0", "uid-psql-0", ReleasePolicy.NEVER, pool="db"
    )
    try:
        pod(store, "dc1-a/intruder@node-a1", "web/Pod/intruder", "uid-intruder", ReleasePolicy.POD, pool="db")
    except FipError as err:
        note(f"refused: {err}")
    for rec in (api1, api2, web0, psql):
        store.bind(rec.subnet, rec.ip, rec.pod_uid, rec.node, time.time())

    say("web-0 (immutable) is deleted and comes back as a new pod: same IP; a stale release is refused:")
    store.reserve("dc1-b", web0.ip, web0.owner, "uid-web0-a", time.time())
    again = pod(
        store, "dc1-b/web-0@node-b2", "default/StatefulSet/web/0", "uid-web0-b", ReleasePolicy.IMMUTABLE
    )
    note(f"same IP as before: {again.ip == web0.ip}")
    try:
        store.release("dc1-b", web0.ip, web0.owner, "uid-web0-a", time.time())
        raise DemoCheckFailed("the stale release went through: the store freed a live pod's IP (a bug)")
    except FipError as err:
        note(f"refused: {err}")

    say("api scales down (policy pod: its IP is freed); psql-0 (policy never) is freed by an operator:")
    store.release("dc1-a", api2.ip, api2.owner, "uid-api-2", time.time())
    fipctl(url, "release", str(psql.ip), "--yes")
    fipctl(url, "ips")
    fipctl(url, "subnets")


_MAIN_PID = os.getpid()
_signals: list[int] = []
_cleaning: list[bool] = []


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """SIGINT/SIGTERM: stop at the next step boundary (see demo_console); a second one stops at
    once; none interrupts the cleanup. pyroute2 forks a short-lived child for every socket it
    opens in a namespace and ends it with SIGTERM: that child inherits this handler and must just
    exit, never run the demo's cleanup."""
    if os.getpid() != _MAIN_PID:
        os._exit(128 + signum)
    if _cleaning:
        return
    _signals.append(signum)
    request_stop(signum)
    if len(_signals) > 1:
        raise KeyboardInterrupt


def run(stack: ExitStack, url: str | None, ipam_only: bool) -> None:
    if url is None:
        server = stack.enter_context(RedisServer())
        say(f"Started a throwaway redis-server on 127.0.0.1:{server.port} (stopped at the end).")
        url = server.url
    store = open_store(url)
    stack.callback(store.close)
    ipam_story(store, url)
    if ipam_only:
        return
    cluster = stack.enter_context(demo_cluster.control_plane())
    demo_cluster.story(cluster, EXAMPLES)
    if os.geteuid() != 0:
        say("Datapath skipped: it needs root (network namespaces). Run `sudo make demo` to see it.")
        return
    if not url.startswith(("redis://", "rediss://")):
        say(f"Datapath skipped: fipd needs a Redis store it can reach, not {url.split(':')[0]}://.")
        return
    workdir = Path(tempfile.mkdtemp(prefix="fipdemo-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    kubeconfig = cluster.api.write_kubeconfig(workdir / "kubeconfig")
    prefix = unique_prefix("fipdemo")
    say(f"Datapath: lab network {prefix}-* (namespaces), a real fipd per node (files in {workdir}):")
    lab = stack.enter_context(node_lab(prefix, workdir, kubeconfig, url))
    demo_datapath.story(cluster, lab, store, partial(fipctl, url))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.demo", description="fip demo (what exists today)")
    parser.add_argument("--url", help="use this store for step 1 instead of starting a redis-server")
    parser.add_argument("--ipam-only", action="store_true", help="stop after step 1 (the store and fipctl)")
    args = parser.parse_args(argv)
    _signals.clear()
    _cleaning.clear()
    clear_stop_requests()
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    t0 = time.monotonic()
    try:
        with ExitStack() as stack:
            try:
                run(stack, args.url, args.ipam_only)
            finally:
                _cleaning.append(True)  # from here on a signal must not cut the cleanup short
    except DemoCheckFailed as err:
        print(f"\ndemo: check failed: {err}", file=sys.stderr)
        return 1
    except (FipError, RuntimeError, KubeError, OSError) as err:  # RedisProcError, lab teardown: RuntimeError
        print(f"\ndemo: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo: interrupted; everything it started was stopped and removed.", file=sys.stderr)
        return 130
    clear_stop_requests()  # a signal after the last step: everything is already shown and cleaned up
    say("Not built yet (see README.md, status):")
    for item in NOT_BUILT:
        note(f"- {item}")
    stopped = "" if args.url else "; redis-server stopped"
    print(f"\ndemo finished in {time.monotonic() - t0:.1f}s{stopped}, nothing left running.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
