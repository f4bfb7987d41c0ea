"""Process supervision for `fip-lab up`: start components, restart the ones that die, stop all.

    sup = Supervisor(run_dir, marker)
    sup.add(Component("redis", argv, health=...))
    sup.start("redis"); sup.wait_healthy(["redis"], 20)
    while running: sup.tick()            # restarts what exited, with back-off
    sup.stop_all()                       # reverse start order: SIGTERM, then SIGKILL

Every component runs in its own session (a Ctrl-C to `fip-lab` reaches only the supervisor),
with stdout and stderr appended to `<run>/logs/<name>.log` and its PID in `<run>/pids/<name>.pid`.
Each carries the environment variable `FIP_LAB_RUN=<run dir>`: `down` uses it to find, and
kill, only processes of this lab even when the supervisor itself is gone (`marked_pids`), and
the children get SIGTERM from the kernel if the supervisor dies (PR_SET_PDEATHSIG). A program
may overwrite its environment block (redis-server does, to set its process title), so the
state also records each PID's start time (`same_process`). All
processes are started from the supervisor's main thread, because that signal fires when the
*thread* that forked the child ends.

Restarts: a component that exits is started again after a back-off of 1 s doubling to 10 s,
reset once it has run for 20 s (short, so chaos that kills a component every few seconds still
finds it back soon). `pre_start` (e.g. `fipd install-cni`) runs before every start.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "FIP_LAB_RUN"
BACKOFF_MIN = 1.0
BACKOFF_MAX = 10.0
STABLE_AFTER = 20.0
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Component:
    name: str
    argv: list[str]
    health: Callable[[], str | None] | None = None  # None = healthy; else what is wrong
    env: dict[str, str] = field(default_factory=dict)
    pre_start: Callable[[], None] | None = None
    stop_timeout: float = 10.0
    # run-time state
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    last_exit: int | None = None
    next_start: float | None = None  # when a crashed component is due to start again
    backoff: float = BACKOFF_MIN


class Supervisor:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.logs = run_dir / "logs"
        self.pids = run_dir / "pids"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids.mkdir(parents=True, exist_ok=True)
        self.components: dict[str, Component] = {}
        self.order: list[str] = []  # start order; stopped in reverse
        self.events: list[str] = []  # what happened, for the status file and the log
        self._main = threading.current_thread()

    def add(self, comp: Component) -> Component:
        self.components[comp.name] = comp
        return comp

    def start(self, name: str) -> None:
        assert threading.current_thread() is self._main, "start children from the supervisor's main thread"
        comp = self.components[name]
        if comp.pre_start is not None:
            comp.pre_start()
        env = {**os.environ, **comp.env, MARKER: str(self.run_dir)}
        with (self.logs / f"{name}.log").open("ab") as log:
            log.write(f"---- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(comp.argv)}\n".encode())
            log.flush()
            comp.proc = subprocess.Popen(
                comp.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=_die_with_parent,  # noqa: PLW1509
            )  # fmt: skip
        comp.started_at = time.monotonic()
        comp.next_start = None
        (self.pids / f"{name}.pid").write_text(f"{comp.proc.pid}\n")
        if name not in self.order:
            self.order.append(name)

    def health(self, name: str) -> str | None:
        """None when the component runs and its health check passes; else what is wrong."""
        comp = self.components[name]
        if comp.proc is None:
            return "not started"
        if comp.proc.poll() is not None:
            return f"exited with code {comp.proc.returncode}"
        if comp.health is None:
            return None
        try:
            return comp.health()
        except Exception as err:  # a probe that cannot run is an unhealthy component
            return f"health check failed: {err}"

    def wait_healthy(
        self, names: list[str], timeout: float, tick: Callable[[], None] | None = None
    ) -> dict[str, str]:
        """Wait until all are healthy; the ones that are not (name -> problem) after `timeout`.
        A component that exits while we wait is reported at once (no restart during start-up)."""
        deadline = time.monotonic() + timeout
        while True:
            if tick is not None:
                tick()
            problems = {n: p for n in names if (p := self.health(n)) is not None}
            exited = {n: p for n, p in problems.items() if p.startswith("exited")}
            if not problems or exited or time.monotonic() > deadline:
                return exited or problems
            time.sleep(0.1)

    def tick(self) -> None:
        """Restart what exited (after its back-off); call it often from the main thread."""
        now = time.monotonic()
        for name in self.order:
            comp = self.components[name]
            if comp.proc is None:
                continue
            code = comp.proc.poll()
            if code is None:
                if now - comp.started_at > STABLE_AFTER:
                    comp.backoff = BACKOFF_MIN
                continue
            if comp.next_start is None:
                comp.last_exit = code
                comp.next_start = now + comp.backoff
                self._event(f"{name} exited with code {code}; restarting in {comp.backoff:g} s")
                comp.backoff = min(comp.backoff * 2, BACKOFF_MAX)
            elif now >= comp.next_start:
                comp.restarts += 1
                try:
                    self.start(name)
                    self._event(f"{name} restarted (restart {comp.restarts})")
                except OSError as err:
                    comp.next_start = now + comp.backoff
                    self._event(f"{name} could not be restarted: {err}")

    def stop(self, name: str) -> None:
        """SIGTERM, wait `stop_timeout`, then SIGKILL; only this component's PID."""
        comp = self.components[name]
        proc, comp.proc = comp.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(comp.stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)

    def stop_all(self) -> None:
        for name in reversed(self.order):
            self.stop(name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Signal a running component (chaos); the supervisor restarts it. Returns the PID."""
        comp = self.components[name]
        if comp.proc is None or comp.proc.poll() is not None:
            raise ProcessLookupError(f"{name} is not running")
        comp.proc.send_signal(sig)
        return comp.proc.pid

    def _event(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {text}"
        self.events.append(line)
        del self.events[:-200]
        print(line, flush=True)


def marked_pids(run_dir: Path) -> list[int]:
    """PIDs of live processes whose environment carries FIP_LAB_RUN=<run_dir> (ours only)."""
    want = f"{MARKER}={run_dir}".encode()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if want in environ.split(b"\0"):
            out.append(int(entry))
    return sorted(out)


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None.
    PID plus start time names one process for good: a reused PID has another start time."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def same_process(pid: object, start: object) -> bool:
    """True if `pid` still is the process that had `start` (as recorded in state.json)."""
    return isinstance(pid, int) and start is not None and start_time(pid) == start and pid_alive(pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie counts as gone
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    return False
