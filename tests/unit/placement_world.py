"""A small world of subnets, nodes, pods and records for the placement tests."""

from __future__ import annotations

import ipaddress
from typing import Any

from fip.core.nodesubnet import NodeFacts, NodeSubnetIndex
from fip.core.owner import OwnerKey
from fip.core.podrequest import PodRequest
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState, Usage
from fip.core.subnet import NodeSelection, Pool, Subnet


def subnet(name: str, third: int, reserved: tuple[int, ...] = ()) -> Subnet:
    net = ipaddress.ip_network(f"10.0.{third}.0/24")
    return Subnet(
        name=name,
        cidr=net,
        gateway=net[1],
        reserved=frozenset(net[i] for i in reserved),
        nodes=NodeSelection(match_labels=(("l2", name),)),
    )


SUBNETS = {s.name: s for s in (subnet("dc1-a", 1, (200,)), subnet("dc1-b", 2), subnet("dc1-c", 3))}


def usage(free: dict[str, int] | None = None) -> dict[str, Usage]:
    free = free or {}
    return {n: Usage(n, 253, 253 - free.get(n, 100), 0) for n in SUBNETS}


def index(per_subnet: int = 3, extra: tuple[str, ...] = ("lonely",)) -> NodeSubnetIndex:
    idx = NodeSubnetIndex(SUBNETS.values())
    for name in SUBNETS:
        for i in range(per_subnet):
            idx.put_node(NodeFacts(f"{name}-n{i}", {"l2": name}))
    for n in extra:
        idx.put_node(NodeFacts(n, {}))
    return idx


def request(
    kind: str = "StatefulSet",
    name: str = "web",
    instance: int | None = 0,
    *,
    pod: str = "",
    uid: str = "uid-new",
    policy: ReleasePolicy = ReleasePolicy.IMMUTABLE,
    ns: str = "default",
    **kw: Any,
) -> PodRequest:
    owner = OwnerKey.of(ns, kind, name, instance)
    pod_name = pod or (f"{name}-{instance}" if instance is not None else f"{name}-x1")
    return PodRequest(ns, pod_name, uid, owner, policy, **kw)


def record(
    req: PodRequest,
    subnet_name: str,
    host: int,
    *,
    state: IPState = IPState.BOUND,
    uid: str = "uid-old",
    pod: str | None = None,
    pool: str = "",
) -> AllocationRecord:
    ip = SUBNETS[subnet_name].cidr[host]
    return AllocationRecord(
        ip=ip,
        subnet=subnet_name,
        owner=req.owner,
        state=state,
        policy=req.policy,
        pod_name=req.name if pod is None else pod,
        pod_uid="" if state is IPState.RESERVED else uid,
        node="",
        pool=pool,
    )


POOLS = {
    "shared": Pool("shared", "dc1-b", 10, frozenset({"default"})),
    "open": Pool("open", "dc1-c", 5, frozenset({"*"})),
}
