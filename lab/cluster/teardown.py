"""`fip-lab down`: remove everything a lab made, whatever state it was left in.

Order: ask the supervisor to stop (SIGTERM; it stops the components and deletes the
namespaces itself), then sweep whatever is left even if the supervisor is gone, crashed or
never got far: every process carrying this run's FIP_LAB_RUN marker (SIGTERM, then SIGKILL),
every namespace named `<prefix>-*`, BPF pins under the run's pin directory. Then it looks
again, and anything still there is a `TeardownIncomplete` naming it. Files stay in the run
directory (logs are what one reads after a failure); `--purge` removes the directory too.
Works after a failed `up`, twice in a row, and on a run directory that holds no lab.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from bridge import netlink
from lab.cluster import topology
from lab.cluster.errors import TeardownIncomplete
from lab.cluster.rundir import RunDir
from lab.cluster.supervisor import marked_pids, pid_alive, same_process

SUPERVISOR_WAIT = 60.0


def down(run: RunDir) -> list[str]:
    """Tear down; returns what was done (one line each). Raises TeardownIncomplete."""
    state = run.read()
    done: list[str] = []
    if state is None and not marked_pids(run.root):
        return done
    state = state or {}
    sup = state.get("supervisor_pid")
    if isinstance(sup, int) and sup in marked_pids(run.root):
        os.kill(sup, signal.SIGTERM)
        deadline = time.monotonic() + SUPERVISOR_WAIT
        while pid_alive(sup) and time.monotonic() < deadline:
            time.sleep(0.1)
        done.append(
            f"supervisor {sup} stopped" if not pid_alive(sup) else f"supervisor {sup} did not stop in time"
        )
    recorded = [
        c["pid"]
        for c in (state.get("components") or {}).values()
        if same_process(c.get("pid"), c.get("start"))
    ]
    killed = _kill_marked(run.root, recorded)
    if killed:
        done.append(f"killed leftover processes {', '.join(map(str, killed))}")
    prefix = str(state.get("prefix") or "")
    if prefix:
        removed = topology.sweep(prefix)
        if removed:
            done.append(f"removed {len(removed)} namespace(s) {prefix}-*")
    bpf_dir = state.get("bpf_dir")
    if bpf_dir and Path(bpf_dir).exists():
        shutil.rmtree(bpf_dir, ignore_errors=True)
        done.append(f"removed BPF pins {bpf_dir}")
    left = leftovers(run, prefix, bpf_dir, state)
    if left:
        raise TeardownIncomplete("fip-lab down left things behind:\n  - " + "\n  - ".join(left))
    if run.state_file.exists():
        run.update(phase="down", progress="down")
    return done


def _kill_marked(root: Path, recorded: list[int]) -> list[int]:
    pids = sorted(set(marked_pids(root)) | set(recorded))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return pids


def leftovers(
    run: RunDir, prefix: str, bpf_dir: object = None, state: dict[str, Any] | None = None
) -> list[str]:
    """What of the lab still exists: its processes, namespaces and BPF pins (one line each)."""
    pids = {p for p in marked_pids(run.root) if pid_alive(p)}
    for c in ((state or {}).get("components") or {}).values():
        if same_process(c.get("pid"), c.get("start")):
            pids.add(c["pid"])
    out = [f"process {pid} (FIP_LAB_RUN={run.root})" for pid in sorted(pids)]
    if prefix:
        out += [
            f"network namespace {n} (ip netns del {n})"
            for n in netlink.list_netns()
            if n.startswith(f"{prefix}-")
        ]
    if isinstance(bpf_dir, str) and Path(bpf_dir).exists():
        out.append(f"BPF pins {bpf_dir} (rm -r {bpf_dir})")
    return out
