"""`make demo` (`python -m lab.demo`): what fip can do today, shown honestly, in seconds.

Starts a throwaway redis-server on a free loopback port (no persistence), loads the example
subnets with `fipctl subnets apply`, and plays the allocation life cycle the scheduler
extender, fipd and the controllers will drive — allocate, bind, keep for an immutable
StatefulSet instance, refuse a stale release, free on scale-down, operator release — calling
the store directly where those components do not exist yet, and printing `fipctl` tables in
between. It ends with the list of what is not built yet. The Redis server is stopped and its
files removed on every exit path.

`--url URL` runs the same story against another store (e.g. `memory://demo`) instead of
starting Redis.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from fip.cli.fipctl import main as fipctl_main
from fip.core.errors import FipError
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord
from fip.store.factory import open_store
from fip.store.protocol import AllocateRequest, Store
from lab.redisproc import RedisProcError, RedisServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "subnets.yaml"

NOT_BUILT = [
    "scheduler extender (filter / prioritize / bind) - today the demo calls the store's allocate itself",
    "controllers (release on scale-down / deletion, reconcile, rebuild after Redis loss, CRD status)",
    "fipd and the fip-cni plugin (plugging IPs into pods: bridge / macvlan / SR-IOV, VLANs, ARP)",
    "eBPF ClusterIP datapath for pods that bypass the host stack",
    "the lab cluster (fake kube-apiserver, scheduler stand-in, nodes and pods as network namespaces)",
    "fipctl check (Redis <-> Kubernetes <-> node consistency report)",
]


def say(text: str) -> None:
    print(f"\n# {text}", flush=True)


def fipctl(url: str, *argv: str) -> None:
    print(f"$ fipctl {' '.join(argv)}", flush=True)
    code = fipctl_main(["--redis-url", url, *argv])
    sys.stdout.flush()
    if code != 0:
        raise SystemExit(f"demo: fipctl {' '.join(argv)} failed with exit code {code}")


def pod(
    store: Store, where: str, owner: str, uid: str, policy: ReleasePolicy, *, pool: str = ""
) -> AllocationRecord:
    """Allocate for pod `uid` of `owner`; `where` is "subnet/pod-name@node"."""
    subnet, _, rest = where.partition("/")
    name, _, node = rest.partition("@")
    req = AllocateRequest(subnet, OwnerKey.decode(owner), uid, name, node, policy, time.time(), pool=pool)
    rec = store.allocate(req)
    print(f"  {name:<16} ({owner}) -> {rec.ip} in {subnet}")
    return rec


def story(url: str) -> None:
    store = open_store(url)
    say("A new Redis looks exactly like one that lost its data, so allocation waits until told otherwise:")
    try:
        store.allocate(
            AllocateRequest(
                "dc1-a", OwnerKey.of("default", "Pod", "early"), "u0", "early", "n1", ReleasePolicy.POD, 0
            )
        )
    except FipError as err:
        print(f"  refused: {err}")
    fipctl(url, "init", "--yes")

    say("Load the example Subnet and Pool resources (the same YAML kubectl would take):")
    fipctl(url, "subnets", "apply", "-f", os.path.relpath(EXAMPLES))
    fipctl(url, "subnets")

    say("The scheduler extender's bind would allocate these (here the demo calls the store):")
    api1 = pod(store, "dc1-a/api-7d9c-x2kq@node-a1", "default/Deployment/api", "uid-api-1", ReleasePolicy.POD)
    api2 = pod(store, "dc1-a/api-7d9c-p8rt@node-a2", "default/Deployment/api", "uid-api-2", ReleasePolicy.POD)
    web0 = pod(
        store, "dc1-b/web-0@node-b1", "default/StatefulSet/web/0", "uid-web0-a", ReleasePolicy.IMMUTABLE
    )
    dbg = pod(store, "dc1-a-v6/debug@node-a1", "default/Pod/debug", "uid-debug", ReleasePolicy.POD)
    pod(store, "dc1-a/psql-0@node-a2", "db/StatefulSet/psql/0", "uid-psql-0", ReleasePolicy.NEVER, pool="db")

    say("Pool db admits only the db and payments namespaces; a pod of namespace web is turned away:")
    try:
        pod(store, "dc1-a/intruder@node-a1", "web/Pod/intruder", "uid-intruder", ReleasePolicy.POD, pool="db")
    except FipError as err:
        print(f"  refused: {err}")

    say("fipd would plug each IP into its pod and mark it bound:")
    for rec in (api1, api2, web0, dbg):
        store.bind(rec.subnet, rec.ip, rec.pod_uid, rec.node, time.time())
    fipctl(url, "ips")

    say("web-0's pod is deleted; its policy is immutable, so the controllers keep the IP reserved for it:")
    store.reserve("dc1-b", web0.ip, web0.owner, "uid-web0-a", time.time())
    fipctl(url, "ips", "--owner", "default/StatefulSet/web")

    say("web-0 comes back as a new pod (new UID) on another node of dc1-b, and gets its IP back:")
    again = pod(
        store, "dc1-b/web-0@node-b2", "default/StatefulSet/web/0", "uid-web0-b", ReleasePolicy.IMMUTABLE
    )
    print(f"  same IP as before: {again.ip == web0.ip}")

    say("A slow actor still holding the OLD pod UID tries to free web-0's IP; the store refuses:")
    try:
        store.release("dc1-b", web0.ip, web0.owner, "uid-web0-a", time.time())
        raise SystemExit("demo: the stale release went through: the store freed a live pod's IP (a bug)")
    except FipError as err:
        print(f"  refused: {err}")

    say("The api Deployment scales down to one replica; policy pod, so its IP is freed:")
    store.release("dc1-a", api2.ip, api2.owner, "uid-api-2", time.time())
    fipctl(url, "ips", "--subnet", "dc1-a")

    say("An operator frees the debug pod's IPv6 address by hand (--yes skips the question):")
    fipctl(url, "release", str(dbg.ip), "--yes")
    fipctl(url, "subnets")

    say("The same tables are there for scripts with -o json:")
    fipctl(url, "-o", "json", "ips", "--owner", "db/StatefulSet/psql/0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.demo", description="fip demo (what exists today)")
    parser.add_argument("--url", help="use this store instead of starting a redis-server")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    try:
        if args.url:
            story(args.url)
        else:
            with RedisServer() as server:
                say(f"Started a throwaway redis-server on 127.0.0.1:{server.port} (stopped at the end).")
                story(server.url)
    except (FipError, RedisProcError) as err:
        print(f"demo: {err}", file=sys.stderr)
        return 1
    say("Not built yet (see README.md, status):")
    for item in NOT_BUILT:
        print(f"  - {item}")
    stopped = "" if args.url else "; redis-server stopped"
    print(f"\ndemo finished in {time.monotonic() - t0:.1f}s{stopped}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
