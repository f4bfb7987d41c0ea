"""What a pod asks of fip, read from its JSON: whether it wants an IP, and its constraints.

A pod opts in with the extended resource `fip.io/ip` in the requests or limits of any container
or init container (kube-scheduler's `IsInterested` rule, so the extender and the scheduler agree
on which pods are fip's). Its annotations may narrow where the IP comes from:

    fip.io/pool          a named Pool (Galaxy's tke.cloud.tencent.com/eni-ip-pool is an alias)
    fip.io/subnets       comma-separated Subnet names the IP may come from
    fip.io/requested-ip  one explicit address; it must be one of a Subnet's reserved IPs
    fip.io/release-policy (or Galaxy's alias) pod | immutable | never

Anyone who can create a pod writes these, so they are parsed strictly and every refusal names
the annotation and the value (`InvalidInput`). Whether the namespace may use what it names is
decided later, against the defined Subnets and Pools (`fip.core.placement`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fip.core.addresses import parse_ip
from fip.core.errors import InvalidInput
from fip.core.names import check_subdomain
from fip.core.owner import OwnerKey
from fip.core.podowner import DeploymentOf, resolve
from fip.core.policy import ReleasePolicy
from fip.core.subnet import IPAddress

RESOURCE = "fip.io/ip"
POOL = "fip.io/pool"
GALAXY_POOL = "tke.cloud.tencent.com/eni-ip-pool"
SUBNETS = "fip.io/subnets"
REQUESTED_IP = "fip.io/requested-ip"
MAX_SUBNETS = 64


@dataclass(frozen=True, slots=True)
class PodRequest:
    """One pod's demand. `subnets` empty means any subnet; `pool` "" means no pool."""

    namespace: str
    name: str
    uid: str
    owner: OwnerKey
    policy: ReleasePolicy
    pool: str = ""
    subnets: frozenset[str] = frozenset()
    requested: IPAddress | None = None


def wants_ip(pod: Mapping[str, object]) -> bool:
    """True when any container or init container requests or limits `fip.io/ip`. Malformed
    shapes count as "does not ask" here; `parse_request` refuses them precisely."""
    spec = pod.get("spec") if isinstance(pod, Mapping) else None
    if not isinstance(spec, Mapping):
        return False
    for group in ("containers", "initContainers"):
        containers = spec.get(group)
        if not isinstance(containers, list):
            continue
        for c in containers:
            res = c.get("resources") if isinstance(c, Mapping) else None
            if not isinstance(res, Mapping):
                continue
            for part in ("requests", "limits"):
                amounts = res.get(part)
                if isinstance(amounts, Mapping) and RESOURCE in amounts:
                    return True
    return False


def parse_request(pod: Mapping[str, object], deployment_of: DeploymentOf) -> PodRequest:
    """The pod's demand; raises InvalidInput naming the metadata field or annotation at fault."""
    who = resolve(pod, deployment_of)
    meta = pod["metadata"]
    assert isinstance(meta, Mapping)  # resolve() checked it
    uid = meta.get("uid")
    if not isinstance(uid, str) or not uid:
        raise InvalidInput("metadata.uid", uid, "is not a pod UID", "send the pod as the API server has it")
    notes = meta.get("annotations") or {}
    assert isinstance(notes, Mapping)  # resolve() checked it
    return PodRequest(
        namespace=who.owner.namespace,
        name=str(meta["name"]),
        uid=uid,
        owner=who.owner,
        policy=who.policy,
        pool=_pool(notes),
        subnets=_subnets(notes.get(SUBNETS)),
        requested=_requested(notes.get(REQUESTED_IP)),
    )


def _pool(notes: Mapping[str, object]) -> str:
    key = POOL if POOL in notes else GALAXY_POOL
    value = notes.get(key)
    if value is None:
        return ""
    return check_subdomain(f"annotation {key}", value)


def _subnets(value: object) -> frozenset[str]:
    field = f"annotation {SUBNETS}"
    if value is None:
        return frozenset()
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, value, "is not a list of Subnet names", "write e.g. dc1-a,dc1-b")
    names = [part.strip() for part in value.split(",")]
    if len(names) > MAX_SUBNETS:
        raise InvalidInput(field, value, f"names more than {MAX_SUBNETS} subnets", "name fewer")
    return frozenset(check_subdomain(field, n) for n in names)


def _requested(value: object) -> IPAddress | None:
    if value is None:
        return None
    return parse_ip(f"annotation {REQUESTED_IP}", value)
