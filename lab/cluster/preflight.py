"""Checks `fip-lab up` makes before it creates anything: privilege, binaries, missing parts.

Each problem is one line that says what to do; `check` raises one PreflightError listing all
of them, so a newcomer fixes everything in one go instead of one failure per attempt.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lab.cluster import plan
from lab.cluster.errors import PreflightError
from lab.cluster.health import executable

PLUGIN_PYTHON = "/usr/bin/python3"  # the fip-cni shebang (fipd install-cni --python)


def problems(*, allow_missing: bool) -> list[str]:
    out = []
    if os.geteuid() != 0:
        out.append(
            "fip-lab up needs root (it creates network namespaces, bridges and veths): run it with sudo"
        )
    for tool in ("redis-server",):
        if shutil.which(tool) is None:
            out.append(f"{tool} is not installed: run `make setup` (Debian package redis-server)")
    if not executable(plan.FIPD):
        out.append(f"{plan.FIPD} is missing: run `make setup` (installs the fip package into .venv)")
    if not executable(PLUGIN_PYTHON):
        out.append(f"{PLUGIN_PYTHON} is missing: the installed fip-cni plugin runs with it")
    if not Path("/proc/self/ns/net").exists():
        out.append("this kernel has no network namespaces (/proc/self/ns/net)")
    if not allow_missing:
        out += [f"{m} - pass --allow-missing to bring up the rest without it" for m in plan.missing()]
    return out


def check(*, allow_missing: bool) -> None:
    found = problems(allow_missing=allow_missing)
    if found:
        raise PreflightError("fip-lab up cannot start:\n  - " + "\n  - ".join(found))
