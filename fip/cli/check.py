"""`fipctl check [--kubeconfig PATH] [--grace S] [-o json]`: every inconsistency between the store
and Kubernetes (see `fip.core.audit` for the classes), exit 1 when there is any.

It needs no controller running: it reads the store, then lists pods, ReplicaSets, Deployments,
StatefulSets and TApps through `fip.kube` (in that order: a pod created after the store was read
can show as "missing", never a live pod's IP as "leaked"). Without `--kubeconfig` (or
`$KUBECONFIG`) it uses the in-cluster service account. A cluster without the TApp CRD simply has
no TApps. JSON output: `{"problems": [{problem, subnet, ip, pod, owner, message}], "checked":
{...counts}}`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from fip.cli.operands import BadArgument
from fip.cli.session import Session, Verbs
from fip.cli.table import emit, emit_object
from fip.core.audit import StoreView, audit
from fip.core.kubeview import deployment_index, owner_states, pod_views
from fip.core.releaseplan import DEFAULT_GRACE

COLUMNS = [("PROBLEM", "problem"), ("SUBNET", "subnet"), ("IP", "ip"), ("POD", "pod"), ("MESSAGE", "message")]
PAGE = 5000

EXIT_PROBLEMS = 1


def read_store(session: Session) -> StoreView:
    store = session.store()
    subnets = store.subnets()
    records = {s.name: store.by_subnet(s.name) for s in subnets}
    usage = {s.name: store.usage(s.name) for s in subnets}
    return StoreView(subnets, records, usage)


def _list_all(client: Any, res: Any) -> list[dict[str, Any]]:
    """Every object of `res`, paged (a big cluster's pods in one answer would be huge)."""
    from fip.kube.errors import NotFound

    items: list[dict[str, Any]] = []
    cont = ""
    while True:
        try:
            page = client.list(res, limit=PAGE, cont=cont)
        except NotFound:  # the kind is not served (no TApp CRD): none exist
            return items
        items += page.get("items") or []
        cont = (page.get("metadata") or {}).get("continue") or ""
        if not cont:
            return items


def read_cluster(kubeconfig: str | None) -> dict[str, list[dict[str, Any]]]:
    from fip.kube.client import KubeClient
    from fip.kube.resources import DEPLOYMENTS, PODS, REPLICASETS, STATEFULSETS, TAPPS

    client = KubeClient(kubeconfig)
    try:
        kinds = {"Pod": PODS, "ReplicaSet": REPLICASETS, "Deployment": DEPLOYMENTS}
        kinds |= {"StatefulSet": STATEFULSETS, "TApp": TAPPS}
        return {kind: _list_all(client, res) for kind, res in kinds.items()}
    finally:
        client.close()


def check(session: Session, args: argparse.Namespace) -> int:
    if not args.grace >= 0:  # also NaN
        raise BadArgument("--grace", args.grace, "is not a number of seconds", "give seconds >= 0")
    view = read_store(session)  # the store first, then Kubernetes
    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG") or None
    objs = read_cluster(kubeconfig)
    pods, bad_pods = pod_views(objs["Pod"], deployment_index(objs["ReplicaSet"]))
    owners, bad_owners = owner_states({k: objs[k] for k in ("Deployment", "StatefulSet", "TApp")})
    findings = audit(view, pods, owners, session.clock(), args.grace)
    rows = [f.as_dict() for f in findings]
    rows += [{"problem": "invalid-object", "subnet": "", "ip": "", "pod": "", "owner": "", "message": m}
             for m in bad_pods + bad_owners]  # fmt: skip
    counts = {
        "subnets": len(view.subnets),
        "records": sum(len(r) for r in view.records.values()),
        "pods": len(pods),
        "workloads": len(owners),
    }
    if session.output == "json":
        emit_object(session.out, "json", {"problems": rows, "checked": counts}, "")
    elif rows:
        emit(session.out, "table", COLUMNS, rows)
    else:
        session.out.write(
            f"no problems: {counts['records']} records in {counts['subnets']} subnets, "
            f"{counts['pods']} pods, {counts['workloads']} workloads\n"
        )
    return EXIT_PROBLEMS if rows else 0


def add_parsers(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "check",
        parents=[common],
        help="report every inconsistency between the store and Kubernetes (exit 1 if any)",
        description="Compare the store with Kubernetes: leaked, stale, missing, duplicate, "
        "outside-subnet, uid/owner mismatch, usage drift, invalid annotations.",
    )
    p.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig (default: $KUBECONFIG, else in-cluster)")
    p.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE,
        metavar="S",
        help=f"records changed less than S seconds ago are not leaks yet (default {DEFAULT_GRACE:g})",
    )
    p.set_defaults(handler=check)
