"""`fip-lab soak --minutes N`: chaos for longer, on a lab of its own; prints what it did and found.

    fip-lab soak --minutes 30 [--config FILE] [--run-dir DIR] [--seed N]

Brings a lab up (`fip-lab up`), runs `lab.cluster.chaos` for N minutes (workload churn, killed
components, Redis restarts and one total loss, dropped watches, forced 410s), checks every
invariant and `fipctl check`, prints the report and takes the lab down. Exit 0 when everything
held, 1 when something did not (each problem is listed), 2 when the lab could not start.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lab.cluster import chaos
from lab.cluster.rundir import RunDir

FIP_LAB = Path(sys.executable).with_name("fip-lab")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fip-lab soak", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--config", type=Path, help="lab config (default lab/cluster/default.yaml)")
    p.add_argument("--run-dir", type=Path, help="default: a new temp dir")
    p.add_argument("--seed", type=int, help="random seed of the churn and the faults")
    args = p.parse_args(argv)
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="fipsoak-"))
    ours = args.run_dir is None
    up = [str(FIP_LAB), "up", "--run-dir", str(run_dir)] + (
        ["--config", str(args.config)] if args.config else []
    )
    if subprocess.run(up, check=False).returncode != 0:
        subprocess.run([str(FIP_LAB), "down", "--run-dir", str(run_dir)], check=False)
        return 2
    try:
        print(f"fip-lab soak: {args.minutes:g} min of chaos on {run_dir}", flush=True)
        report = chaos.run(RunDir(run_dir), seconds=args.minutes * 60, target=0, seed=args.seed)
    finally:
        subprocess.run([str(FIP_LAB), "down", "--run-dir", str(run_dir)], check=False)
    for line in report.lines():
        print(f"fip-lab soak: {line}")
    if ours and report.ok:
        shutil.rmtree(run_dir, ignore_errors=True)  # on a failure the logs stay for reading
    elif not report.ok:
        print(f"fip-lab soak: logs in {run_dir / 'logs'}")
    return 0 if report.ok else 1
