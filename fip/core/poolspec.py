"""Pool resources <-> `Pool` (see `deploy/crds/pools.yaml`).

A pool names one subnet, a cap (`size`, at least 1) and the namespaces allowed to draw from it
(`"*"` allows every namespace; an empty or missing list allows none, so access is always
explicit). `check_pool` holds a pool against its subnet: the subnet must exist and have room for
the cap.
"""

from __future__ import annotations

from collections.abc import Mapping

from fip.core.errors import InvalidInput
from fip.core.names import check_label, check_subdomain
from fip.core.resource import (
    API_VERSION,
    INT64_MAX,
    allowed_keys,
    integer,
    parse_resource,
    required,
    sequence,
    unique,
)
from fip.core.subnet import Pool, Subnet

POOL_FIELDS = ("subnet", "size", "namespaces")
POOL_REQUIRED = ("subnet", "size")
MAX_NAMESPACES = 1024


def parse_pool(obj: object) -> Pool:
    """Validate a Pool resource (apiVersion fip.io/v1, kind Pool); status is ignored."""
    return parse_resource(obj, "Pool", _pool)


def _pool(name: str, spec: Mapping[str, object]) -> Pool:
    allowed_keys(spec, "spec.", POOL_FIELDS, "Pool")
    subnet = check_subdomain("spec.subnet", required(spec, "spec.", "subnet", "name the pool's Subnet"))
    size = integer(
        "spec.size",
        required(spec, "spec.", "size", "give the most IPs the pool may hold"),
        1,
        INT64_MAX,
        "give the most IPs the pool may hold, at least 1",
    )
    raw = sequence("spec.namespaces", spec.get("namespaces", []), MAX_NAMESPACES)
    namespaces = [ns if ns == "*" else check_label(f"spec.namespaces[{i}]", ns) for i, ns in enumerate(raw)]
    unique("spec.namespaces", raw, list(namespaces))
    return Pool(name=name, subnet=subnet, size=size, namespaces=frozenset(str(ns) for ns in namespaces))


def pool_to_resource(pool: Pool) -> dict[str, object]:
    """The canonical resource of `pool` (no status); `parse_pool` reads it back equal."""
    spec: dict[str, object] = {
        "subnet": pool.subnet,
        "size": pool.size,
        "namespaces": sorted(pool.namespaces),
    }
    return {"apiVersion": API_VERSION, "kind": "Pool", "metadata": {"name": pool.name}, "spec": spec}


def check_pool(pool: Pool, subnets: Mapping[str, Subnet]) -> None:
    """Reject a pool whose subnet is unknown or smaller than the pool's cap."""
    where = f'Pool "{pool.name}"'
    subnet = subnets.get(pool.subnet)
    if subnet is None:
        known = ", ".join(sorted(subnets)) or "none defined"
        raise InvalidInput("spec.subnet", pool.subnet, "is not a Subnet", f"name one of: {known}", where)
    total = subnet.total()
    if pool.size > total:
        raise InvalidInput(
            "spec.size",
            pool.size,
            f'exceeds the {total} addresses of Subnet "{subnet.name}"',
            f"give at most {total}",
            where,
        )
