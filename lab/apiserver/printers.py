"""Server-side printing of the built-in kinds: kube-apiserver's columns and cells, per kind.

Columns and cell rules follow kube-apiserver's printers (`pkg/printers/internalversion`), so
`kubectl get` shows what it shows against a real cluster: pods READY/STATUS/RESTARTS/AGE with the
status reasoning (init containers, waiting/terminated reasons, Terminating), nodes with
`SchedulingDisabled` and roles, deployments `ready/desired`, services' PORT(S), events'
LAST SEEN/OBJECT and so on. Like the real server (`printers/storage`), rows always carry the
`-o wide` cells; kubectl hides priority-1 columns unless asked. Kinds without a printer get the
server's default table: NAME and CREATED AT. Ages are apimachinery's `HumanDuration` of `now`
minus the timestamp, `now` passed in.
"""

# ruff: noqa: E501  (one kind's columns or cells per line, as in the real printers)

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from lab.apiserver.selectors import label_selector, labels_text

Obj = dict[str, Any]
Column = tuple[str, str, int]  # (name, type, priority)
Row = Callable[[Obj, float], list[Any]]

NAME: Column = ("Name", "string", 0)
AGE: Column = ("Age", "string", 0)
WIDE_TEMPLATE: list[Column] = [("Containers", "string", 1), ("Images", "string", 1)]


def parse_time(stamp: Any) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def human_duration(seconds_f: float) -> str:  # noqa: PLR0911
    """apimachinery `duration.HumanDuration`: `45s`, `5m30s`, `3h`, `2d5h`, `3y` ..."""
    seconds = int(seconds_f)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m" if seconds % 60 == 0 else f"{minutes}m{seconds % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(stamp: Any, now: float) -> str:
    t = parse_time(stamp)
    return "<unknown>" if t is None else human_duration(now - t)


def age(obj: Obj, now: float) -> str:
    return since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _get(obj: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def containers(template_spec: Any) -> list[str]:
    """The wide CONTAINERS and IMAGES cells of a pod template."""
    items = (template_spec or {}).get("containers") or []
    return [",".join(c.get("name", "") for c in items), ",".join(c.get("image", "") for c in items)]


def _pod(obj: Obj, now: float) -> list[Any]:
    from lab.apiserver.podprint import pod_cells

    return pod_cells(obj, now)


def _node(obj: Obj, now: float) -> list[Any]:
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    states = [] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    states = states or ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    roles = set()
    for key, value in ((obj.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key.split("/", 1)[1]:
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        return next(
            (a.get("address", "") for a in status.get("addresses") or [] if a.get("type") == kind), "<none>"
        )

    return [
        _name(obj), ",".join(states), ",".join(sorted(roles)) or "<none>", age(obj, now),
        info.get("kubeletVersion", ""), address("InternalIP"), address("ExternalIP"),
        info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]  # fmt: skip


def _deployment(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}"
    tmpl = _get(spec, "template", "spec")
    sel = label_selector(spec.get("selector"), none="")
    return [_name(obj), ready, status.get("updatedReplicas", 0), status.get("availableReplicas", 0), age(obj, now),
            *containers(tmpl), sel]  # fmt: skip


def _replicaset(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [_name(obj), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            age(obj, now), *containers(_get(spec, "template", "spec")), label_selector(spec.get("selector"))]  # fmt: skip


def _statefulset(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}"
    return [_name(obj), ready, age(obj, now), *containers(_get(spec, "template", "spec"))]


def _daemonset(obj: Obj, now: float) -> list[Any]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    tmpl = _get(spec, "template", "spec") or {}
    return [_name(obj), st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            labels_text(tmpl.get("nodeSelector")), age(obj, now), *containers(tmpl),
            label_selector(spec.get("selector"))]  # fmt: skip


def _service(obj: Obj, now: float) -> list[Any]:
    spec = obj.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    ips = spec.get("clusterIPs") or []
    external = ",".join(spec.get("externalIPs") or []) or "<none>"
    if kind == "LoadBalancer":
        lb = sorted(
            {
                i.get("ip") or i.get("hostname") or ""
                for i in _get(obj, "status", "loadBalancer", "ingress") or []
            }
            - {""}
        )
        joined = ",".join(lb + list(spec.get("externalIPs") or []))
        external = joined or "<pending>"
    elif kind == "ExternalName":
        external = spec.get("externalName", "")
    ports = []
    for p in spec.get("ports") or []:
        proto = p.get("protocol", "TCP")
        ports.append(
            f"{p.get('port')}:{p['nodePort']}/{proto}" if p.get("nodePort") else f"{p.get('port')}/{proto}"
        )
    return [_name(obj), kind, ips[0] if ips else "<none>", external, ",".join(ports) or "<none>", age(obj, now),
            labels_text(spec.get("selector"))]  # fmt: skip


def _more(items: list[str], limit: int = 3) -> str:
    if len(items) > limit:
        return ",".join(items[:limit]) + f" + {len(items) - limit} more..."
    return ",".join(items) or "<unset>"


def _endpointslice(obj: Obj, now: float) -> list[Any]:
    ports = [
        str(p["port"]) if p.get("port") is not None else (p.get("name") or "*")
        for p in obj.get("ports") or []
    ]
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [_name(obj), obj.get("addressType", ""), _more(ports), _more(addresses), age(obj, now)]


def _endpoints(obj: Obj, now: float) -> list[Any]:
    shown: list[str] = []
    for ss in obj.get("subsets") or []:
        addrs = [a.get("ip", "") for a in ss.get("addresses") or []]
        if not ss.get("ports"):
            shown += addrs
        for port in ss.get("ports") or []:
            shown += [
                f"[{ip}]:{port.get('port')}" if ":" in ip else f"{ip}:{port.get('port')}" for ip in addrs
            ]
    if not shown:
        return [_name(obj), "<none>", age(obj, now)]
    return [_name(obj), _more(shown).replace(",<unset>", ""), age(obj, now)]


def _event(obj: Obj, now: float) -> list[Any]:
    first = (
        since(obj.get("firstTimestamp"), now)
        if obj.get("firstTimestamp")
        else since(obj.get("eventTime"), now)
    )
    last = since(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 1
    if obj.get("series"):
        last = since(obj["series"].get("lastObservedTime"), now)
        count = obj["series"].get("count", count)
    inv = obj.get("involvedObject") or {}
    target = str(inv.get("kind", "")).lower() + (f"/{inv['name']}" if inv.get("name") else "")
    src = obj.get("source") or {}
    component = src.get("component") or obj.get("reportingComponent") or ""
    host = src.get("host") or obj.get("reportingInstance") or ""
    return [last, obj.get("type", ""), obj.get("reason", ""), target, inv.get("fieldPath", ""),
            f"{component}, {host}" if host else component, str(obj.get("message", "")).strip(), first, count,
            _name(obj)]  # fmt: skip


def _job(obj: Obj, now: float) -> list[Any]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    done = st.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{done}/{spec['completions']}"
    else:
        par = spec.get("parallelism") or 0
        completions = f"{done}/1 of {par}" if par > 1 else f"{done}/1"
    start, end = parse_time(st.get("startTime")), parse_time(st.get("completionTime"))
    took = "" if start is None else human_duration((end if end is not None else now) - start)
    conds = {c.get("type"): c.get("status") == "True" for c in st.get("conditions") or []}
    status = "Running"
    for cond, shown in (("Complete", "Complete"), ("Failed", "Failed")):
        if conds.get(cond):
            status = shown
            break
    else:
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            status = "Terminating"
        elif conds.get("Suspended"):
            status = "Suspended"
        elif conds.get("FailureTarget"):
            status = "FailureTarget"
    return [_name(obj), status, completions, took, age(obj, now), *containers(_get(spec, "template", "spec")),
            label_selector(spec.get("selector"))]  # fmt: skip


def _cronjob(obj: Obj, now: float) -> list[Any]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    last = since(st["lastScheduleTime"], now) if st.get("lastScheduleTime") else "<none>"
    job = _get(spec, "jobTemplate", "spec") or {}
    return [_name(obj), spec.get("schedule", ""), spec.get("timeZone") or "<none>", bool(spec.get("suspend")),
            len(st.get("active") or []), last, age(obj, now), *containers(_get(job, "template", "spec")),
            label_selector(job.get("selector"))]  # fmt: skip


def _pdb(obj: Obj, now: float) -> list[Any]:
    spec = obj.get("spec") or {}
    mins, maxu = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [_name(obj), "N/A" if mins is None else str(mins), "N/A" if maxu is None else str(maxu),
            _get(obj, "status", "disruptionsAllowed") or 0, age(obj, now)]  # fmt: skip


def _hpa(obj: Obj, now: float) -> list[Any]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    target = spec.get("targetCPUUtilizationPercentage")
    current = st.get("currentCPUUtilizationPercentage")
    metrics = (
        "<none>" if target is None else f"cpu: {'<unknown>' if current is None else f'{current}%'}/{target}%"
    )
    mins = spec.get("minReplicas")
    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", metrics, "<unset>" if mins is None else str(mins),
            spec.get("maxReplicas", 0), st.get("currentReplicas", 0), age(obj, now)]  # fmt: skip


def _binding(obj: Obj, now: float) -> list[Any]:
    ref = obj.get("roleRef") or {}
    subjects = obj.get("subjects") or []

    def of(kind: str) -> str:
        if kind == "ServiceAccount":
            return ", ".join(
                f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects if s.get("kind") == kind
            )
        return ", ".join(s.get("name", "") for s in subjects if s.get("kind") == kind)

    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now), of("User"), of("Group"),
            of("ServiceAccount")]  # fmt: skip


def _revision(obj: Obj, now: float) -> list[Any]:
    owner = next(
        (r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r.get("controller")), None
    )
    shown = "<none>"
    if owner is not None:
        group = str(owner.get("apiVersion", "")).rpartition("/")[0]
        kind = str(owner.get("kind", "")) + (f".{group}" if group else "")
        shown = f"{kind.lower()}/{owner.get('name', '')}"
    return [_name(obj), shown, obj.get("revision", 0), age(obj, now)]


def _created(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), (obj.get("metadata") or {}).get("creationTimestamp")]


WIDE3: list[Column] = [*WIDE_TEMPLATE, ("Selector", "string", 1)]
PRINTERS: dict[str, tuple[list[Column], Row]] = {
    "Pod": ([NAME, ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0), AGE, ("IP", "string", 1),
             ("Node", "string", 1), ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)], _pod),
    "Node": ([NAME, ("Status", "string", 0), ("Roles", "string", 0), AGE, ("Version", "string", 0),
              ("Internal-IP", "string", 1), ("External-IP", "string", 1), ("OS-Image", "string", 1),
              ("Kernel-Version", "string", 1), ("Container-Runtime", "string", 1)], _node),
    "Deployment": ([NAME, ("Ready", "string", 0), ("Up-to-date", "string", 0), ("Available", "string", 0), AGE, *WIDE3],
                   _deployment),
    "ReplicaSet": ([NAME, ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0), AGE, *WIDE3],
                   _replicaset),
    "StatefulSet": ([NAME, ("Ready", "string", 0), AGE, *WIDE_TEMPLATE], _statefulset),
    "DaemonSet": ([NAME, ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0),
                   ("Up-to-date", "integer", 0), ("Available", "integer", 0), ("Node Selector", "string", 0), AGE,
                   *WIDE3], _daemonset),
    "Service": ([NAME, ("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0),
                 ("Port(s)", "string", 0), AGE, ("Selector", "string", 1)], _service),
    "EndpointSlice": ([NAME, ("AddressType", "string", 0), ("Ports", "string", 0), ("Endpoints", "string", 0), AGE],
                      _endpointslice),
    "Endpoints": ([NAME, ("Endpoints", "string", 0), AGE], _endpoints),
    "Event": ([("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0), ("Object", "string", 0),
               ("Subobject", "string", 1), ("Source", "string", 1), ("Message", "string", 0), ("First Seen", "string", 1),
               ("Count", "string", 1), ("Name", "string", 1)], _event),
    "Namespace": ([NAME, ("Status", "string", 0), AGE],
                  lambda o, now: [_name(o), _get(o, "status", "phase") or "", age(o, now)]),
    "Lease": ([NAME, ("Holder", "string", 0), AGE],
              lambda o, now: [_name(o), _get(o, "spec", "holderIdentity") or "", age(o, now)]),
    "ConfigMap": ([NAME, ("Data", "string", 0), AGE],
                  lambda o, now: [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(o, now)]),
    "Secret": ([NAME, ("Type", "string", 0), ("Data", "string", 0), AGE],
               lambda o, now: [_name(o), o.get("type", ""), len(o.get("data") or {}), age(o, now)]),
    "ServiceAccount": ([NAME, ("Secrets", "string", 0), AGE],
                       lambda o, now: [_name(o), len(o.get("secrets") or []), age(o, now)]),
    "Job": ([NAME, ("Status", "string", 0), ("Completions", "string", 0), ("Duration", "string", 0), AGE, *WIDE3], _job),
    "CronJob": ([NAME, ("Schedule", "string", 0), ("Timezone", "string", 0), ("Suspend", "boolean", 0),
                 ("Active", "integer", 0), ("Last Schedule", "string", 0), AGE, *WIDE3], _cronjob),
    "PodDisruptionBudget": ([NAME, ("Min Available", "string", 0), ("Max Unavailable", "string", 0),
                             ("Allowed Disruptions", "integer", 0), AGE], _pdb),
    "HorizontalPodAutoscaler": ([NAME, ("Reference", "string", 0), ("Targets", "string", 0), ("MinPods", "string", 0),
                                 ("MaxPods", "string", 0), ("Replicas", "string", 0), AGE], _hpa),
    "RoleBinding": ([NAME, ("Role", "string", 0), AGE, ("Users", "string", 1), ("Groups", "string", 1),
                     ("ServiceAccounts", "string", 1)], _binding),
    "ClusterRoleBinding": ([NAME, ("Role", "string", 0), AGE, ("Users", "string", 1), ("Groups", "string", 1),
                            ("ServiceAccounts", "string", 1)], _binding),
    "ControllerRevision": ([NAME, ("Controller", "string", 0), ("Revision", "string", 0), AGE], _revision),
}  # fmt: skip
DEFAULT: tuple[list[Column], Row] = ([NAME, ("Created At", "date", 0)], _created)


def printer(kind: str) -> tuple[list[Column], Row]:
    return PRINTERS.get(kind, DEFAULT)
