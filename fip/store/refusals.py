"""The store's refusals as human messages, shared by every store so the wording never drifts.

Each function returns the exception to raise (what went wrong, the value, what to do).
"""

from __future__ import annotations

from collections.abc import Iterable

from fip.core.owner import OwnerKey
from fip.core.record import AllocationRecord, Usage
from fip.core.subnet import IPAddress
from fip.store.errors import (
    IPTaken,
    NoFreeIP,
    NotAllocatable,
    PoolForbidden,
    PoolFull,
    ServerChanged,
    StaleOperation,
    StateLost,
    SubnetInUse,
    UnknownPool,
    UnknownSubnet,
)


def unknown_subnet(name: str) -> UnknownSubnet:
    return UnknownSubnet(f'subnet "{name}" is not defined in the store; create the Subnet resource first')


def unknown_pool(pool: str, subnet: str) -> UnknownPool:
    return UnknownPool(f'pool "{pool}" is not defined in subnet "{subnet}"; create the Pool resource first')


def no_free(usage: Usage) -> NoFreeIP:
    return NoFreeIP(
        f'subnet "{usage.subnet}": no free IP ({usage.allocated} of {usage.total} allocated, '
        f"{usage.reserved} reserved); release IPs or widen the subnet's ranges"
    )


def pool_full(pool: str, subnet: str, used: int, size: int) -> PoolFull:
    return PoolFull(
        f'pool "{pool}" in subnet "{subnet}" is full ({used} of {size} IPs in use); '
        "raise the pool's size or release IPs"
    )


def pool_forbidden(pool: str, namespace: str, allowed: Iterable[str]) -> PoolForbidden:
    names = ", ".join(sorted(allowed)) or "none"
    return PoolForbidden(
        f'namespace "{namespace}" may not use pool "{pool}" (allowed: {names}); '
        "add the namespace to the pool's namespaces or use another pool"
    )


def taken(subnet: str, ip: IPAddress, holder: AllocationRecord) -> IPTaken:
    pod = f'pod UID "{holder.pod_uid}"' if holder.pod_uid else "no pod"
    return IPTaken(
        f'subnet "{subnet}": IP {ip} is held by {holder.owner} ({holder.state}, {pod}); '
        "request another IP or release this one first"
    )


def not_allocatable(subnet: str, ip: object) -> NotAllocatable:
    return NotAllocatable(
        f'subnet "{subnet}": IP {ip} cannot be handed out (outside the subnet or its ranges, excluded, '
        "the gateway, or the network/broadcast address); request an address inside the subnet's ranges"
    )


def stale(
    op: str, subnet: str, ip: IPAddress, *, owner: OwnerKey | None, uid: str, holder: AllocationRecord | None
) -> StaleOperation:
    who = f'{owner} with pod UID "{uid}"' if owner is not None else f'pod UID "{uid}"'
    if holder is None:
        return StaleOperation(
            f'subnet "{subnet}": refused to {op} IP {ip} for {who}: the IP is free '
            "(stale request; nothing done)"
        )
    return StaleOperation(
        f'subnet "{subnet}": refused to {op} IP {ip} for {who}: it is held by {holder.owner} '
        f'with pod UID "{holder.pod_uid}" ({holder.state}) (stale request; re-read the record)'
    )


def uid_elsewhere(subnet: str, uid: str, holder: AllocationRecord) -> StaleOperation:
    return StaleOperation(
        f'subnet "{subnet}": pod UID "{uid}" already holds IP {holder.ip} for {holder.owner}; '
        "one pod holds one IP per subnet (stale request; re-read the record)"
    )


def subnet_in_use(name: str, ips: list[str], count: int, what: str) -> SubnetInUse:
    shown = ", ".join(ips[:5]) + (", ..." if count > 5 else "")
    return SubnetInUse(
        f'subnet "{name}": {what} would orphan {count} held IP(s) ({shown}); '
        "release them first or keep them inside the ranges"
    )


def state_lost(where: str, detail: str) -> StateLost:
    return StateLost(
        f"{where}: allocation state lost ({detail}); allocation is stopped until the controllers "
        "rebuild it from pod annotations and declare the rebuild finished (see controllers/README.md)"
    )


def rebuilding(where: str) -> StateLost:
    return StateLost(
        f"{where}: a rebuild of the allocation state is in progress; allocation resumes when it "
        "is declared finished (retry shortly)"
    )


def server_changed(where: str, detail: str) -> ServerChanged:
    return ServerChanged(
        f"{where}: {detail} since the allocation state was last verified, and may have dropped "
        "the last acknowledged writes; allocation is stopped until fip-controllers rebuild the "
        "state from pod annotations (or an operator who knows nothing was lost runs "
        "`fipctl init --accept-server`)"
    )
