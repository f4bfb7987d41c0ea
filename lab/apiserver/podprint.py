"""A pod's printed row: READY, STATUS, RESTARTS as kube-apiserver's pod printer derives them.

STATUS starts from `status.reason` (else the phase); `SchedulingGated` when the PodScheduled
condition says so; an init container that has not finished gives `Init:N/M` or `Init:<reason>`;
otherwise the last container (in status order, walking backwards) with a waiting or terminated
reason names it (`CrashLoopBackOff`, `Completed`, `ExitCode:1`), `Completed` with a container
still running reads `Running` (or `NotReady` without a Ready condition); a pod with a
`deletionTimestamp` that is not finished is `Terminating` (`Unknown` for NodeLost). READY counts
containers that are ready and running, out of the containers plus restartable (sidecar) init
containers. RESTARTS is the sum, with `(5m ago)` after the last termination when known.
"""

from __future__ import annotations

from typing import Any

from lab.apiserver.printers import human_duration, parse_time, since

Obj = dict[str, Any]


def _sidecar(container: Obj | None) -> bool:
    return bool(container) and (container or {}).get("restartPolicy") == "Always"


def _terminated_reason(term: Obj, prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def _last_end(statuses: list[Obj]) -> float | None:
    ends = [
        parse_time(((s.get("lastState") or {}).get("terminated") or {}).get("finishedAt")) for s in statuses
    ]
    known = [e for e in ends if e is not None]
    return max(known) if known else None


def _init_state(spec: Obj, status: Obj, reason: str) -> tuple[str, bool, int]:
    """(reason, still initialising, ready sidecars) from the init containers."""
    inits = {c.get("name"): c for c in spec.get("initContainers") or []}
    ready = 0
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode", 0) == 0:
            continue
        if _sidecar(inits.get(cs.get("name"))) and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if term is not None:
            return _terminated_reason(term, "Init:"), True, ready
        if wait is not None and wait.get("reason") and wait["reason"] != "PodInitializing":
            return "Init:" + wait["reason"], True, ready
        return f"Init:{i}/{len(inits)}", True, ready
    return reason, False, ready


def pod_cells(pod: Obj, now: float) -> list[Any]:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    conditions = status.get("conditions") or []
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"
    inits = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(1 for c in inits.values() if _sidecar(c))
    init_statuses = status.get("initContainerStatuses") or []
    reason, initializing, ready = _init_state(spec, status, reason)
    restarts = sum(int(s.get("restartCount", 0)) for s in init_statuses)
    last = _last_end(init_statuses)
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions)
    if not initializing or initialized:
        sidecars = [s for s in init_statuses if _sidecar(inits.get(s.get("name")))]
        restarts = sum(int(s.get("restartCount", 0)) for s in sidecars)
        last = _last_end(sidecars)
        running = False
        statuses = status.get("containerStatuses") or []
        for cs in reversed(statuses):
            restarts += int(cs.get("restartCount", 0))
            state = cs.get("state") or {}
            wait, term = state.get("waiting"), state.get("terminated")
            if wait is not None and wait.get("reason"):
                reason = wait["reason"]
            elif term is not None:
                reason = _terminated_reason(term)
            elif cs.get("ready") and state.get("running") is not None:
                running = True
                ready += 1
        ends = [e for e in (last, _last_end(statuses)) if e is not None]
        last = max(ends) if ends else None
        if reason == "Completed" and running:
            has_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if has_ready else "NotReady"
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    shown = str(restarts)
    if restarts and last is not None:
        shown = f"{restarts} ({human_duration(now - last)} ago)"
    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    gates_cell = "<none>"
    if gates:
        true = sum(
            1
            for g in gates
            if next((c.get("status") for c in conditions if c.get("type") == g.get("conditionType")), None)
            == "True"
        )
        gates_cell = f"{true}/{len(gates)}"
    return [
        meta.get("name", ""),
        f"{ready}/{total}",
        reason,
        shown,
        since(meta.get("creationTimestamp"), now),
        (ips[0].get("ip") if ips else "") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_cell,
    ]
