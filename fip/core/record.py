"""Allocation records: the state of one handed-out IP.

States:
    allocated  handed to a pod (pod UID known) by the extender's bind, not yet plugged
    bound      plugged into the running pod by fipd on `node`
    reserved   kept for `owner` while no pod uses it (immutable / never policies)

A free IP has no record. Every transition names the pod UID it expects, so a stale actor
(an old extender replica, a slow controller) can never free or rebind a recreated pod's IP.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.subnet import IPAddress


class IPState(enum.StrEnum):
    ALLOCATED = "allocated"
    BOUND = "bound"
    RESERVED = "reserved"


@dataclass(frozen=True, slots=True)
class AllocationRecord:
    ip: IPAddress
    subnet: str
    owner: OwnerKey
    state: IPState
    policy: ReleasePolicy
    pod_name: str = ""
    pod_uid: str = ""
    node: str = ""
    pool: str = ""
    created_at: float = 0.0  # unix seconds, set by the store at first allocation
    updated_at: float = 0.0  # unix seconds of the last transition


@dataclass(frozen=True, slots=True)
class Usage:
    """Counts of one subnet. Invariant: free + allocated + reserved == total, where allocated
    counts both `allocated` and `bound` records."""

    subnet: str
    total: int
    allocated: int
    reserved: int

    @property
    def free(self) -> int:
        return self.total - self.allocated - self.reserved
