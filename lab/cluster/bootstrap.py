"""What an operator does once the API server and Redis run: apply the CRs, initialise the store.

- The Subnet and Pool custom resources of the config go to the API server (as `kubectl apply -f`
  would; ones that exist are replaced), and are written to `<run>/subnets.yaml` too.
- The store of a new lab (a fresh run directory, so no AOF) is initialised with `fipctl init
  --yes`, then `fipctl subnets apply -f <run>/subnets.yaml` loads the definitions. This runs
  once per `up`: after a Redis restart the AOF brings everything back, and a store that lost
  its data must be noticed (and rebuilt) by the controllers, not re-initialised behind them.
- The legacy hosts' whitelists are written from the config (the file is theirs from then on).
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import yaml

from fip.cli.fipctl import main as fipctl_main
from fip.kube.client import KubeClient
from fip.kube.errors import Conflict
from fip.kube.resources import POOLS, SUBNETS
from lab.cluster.config import LabConfig
from lab.cluster.errors import LabError
from lab.cluster.legacy import write_whitelist
from lab.cluster.rundir import RunDir


def whitelists(cfg: LabConfig, run: RunDir) -> None:
    for s in cfg.subnets:
        if s.legacy is not None and not run.legacy_allow(s.subnet.name).exists():
            note = f"legacy host of subnet {s.subnet.name}: accepted source IPs, one a line"
            write_whitelist(run.legacy_allow(s.subnet.name), [str(ip) for ip in s.legacy.allow], note)


def apply_resources(cfg: LabConfig, client: KubeClient) -> None:
    for res, obj in [*((SUBNETS, s.resource) for s in cfg.subnets), *((POOLS, p) for p in cfg.pools)]:
        try:
            client.create(res, obj)
        except Conflict:
            current = client.get(res, obj["metadata"]["name"])
            client.update(
                res,
                {
                    **obj,
                    "metadata": {
                        **obj["metadata"],
                        "resourceVersion": current["metadata"]["resourceVersion"],
                    },
                },
            )


def fipctl(redis_url: str, *argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        code = fipctl_main(["--redis-url", redis_url, *argv])
    if code != 0:
        raise LabError(f"fipctl {' '.join(argv)} failed (exit {code}): {out.getvalue().strip()[-500:]}")
    return out.getvalue()


def init_store(cfg: LabConfig, run: RunDir, redis_url: str) -> None:
    """Initialise the brand-new store of a new lab and load the definitions (once per `up`)."""
    manifest = run.root / "subnets.yaml"
    docs = [s.resource for s in cfg.subnets] + list(cfg.pools)
    manifest.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    fipctl(redis_url, "init", "--yes")
    fipctl(redis_url, "subnets", "apply", "-f", str(manifest))
