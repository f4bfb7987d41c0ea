"""The store protocol: the handful of operations the extender, controllers and fipd need.

Every mutating operation touches exactly one subnet (so it runs as one atomic step on one
Redis Cluster shard) and either completes or changes nothing. Times are unix seconds passed
in by the caller (the core never reads the clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from fip.core.errors import InvalidInput
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, Usage
from fip.core.subnet import IPAddress, Pool, Subnet
from fip.store.errors import StoreError


@dataclass(frozen=True, slots=True)
class AllocateRequest:
    """Ask for one IP in `subnet` for the pod `pod_uid` of `owner`.

    Order of choice: the IP already held by `pod_uid` in this subnet (idempotent retry; a UID
    held for another owner is StaleOperation), else one of the owner's reserved IPs in this
    subnet (`requested` if it is one of them), else `requested` if given (it must be
    requestable - the subnet's reserved IPs are - and free), else a never-used free IP, else a
    released one. With `pool`, the pool's namespaces apply (even to the owner's reserved IPs)
    and its cap applies to new IPs, which are counted against the pool. A UID is per subnet:
    the same UID in two subnets gets two IPs. An empty `pod_uid` is InvalidInput.
    """

    subnet: str
    owner: OwnerKey
    pod_uid: str
    pod_name: str
    node: str
    policy: ReleasePolicy
    now: float
    requested: IPAddress | None = None
    pool: str = ""


def check_request(req: AllocateRequest) -> None:
    """What every store refuses before looking at its state: a request without a pod UID
    (idempotency hangs on it)."""
    if not req.pod_uid:
        raise InvalidInput("pod_uid", req.pod_uid, "is empty", "pass the pod's metadata.uid")


def check_pool(pool: Pool) -> None:
    """Pool fields the stores rely on: a non-negative size, namespaces without ',' or '|'."""
    if pool.size < 0:
        raise InvalidInput(f"pool {pool.name}: size", pool.size, "is negative", "use 0 or more")
    for ns in pool.namespaces:
        if not ns or "," in ns or "|" in ns:
            raise InvalidInput(f"pool {pool.name}: namespaces", ns, "is not a namespace", 'use names or "*"')


class Store(Protocol):
    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    # --- definitions -------------------------------------------------------------------
    def put_subnet(self, subnet: Subnet) -> None:
        """Create or update a subnet definition. Existing records stay; shrinking a subnet
        below its allocated IPs is refused (SubnetInUse)."""

    def delete_subnet(self, name: str) -> None:
        """Remove a subnet that holds no records (SubnetInUse otherwise)."""

    def subnets(self) -> list[Subnet]: ...

    def put_pool(self, pool: Pool) -> None: ...

    def delete_pool(self, name: str) -> None:
        """Remove the pool's definition: nothing is handed out under it any more. IPs counted
        against it keep their pool until released (a pool defined again under the name counts
        them). An unknown name is not an error (idempotent)."""

    def pools(self) -> list[Pool]: ...

    # --- allocation ----------------------------------------------------------------------
    def allocate(self, req: AllocateRequest) -> AllocationRecord:
        """Hand out one IP (see AllocateRequest for the order). Idempotent per pod UID.
        Raises NoFreeIP, IPTaken, NotAllocatable, PoolFull, PoolForbidden, UnknownPool,
        UnknownSubnet, StaleOperation (the pod UID holds an IP for another owner), StateLost."""

    def bind(self, subnet: str, ip: IPAddress, pod_uid: str, node: str, now: float) -> AllocationRecord:
        """Mark the IP bound to the running pod on `node`. Refused (StaleOperation) unless the
        record's pod UID is `pod_uid`. Idempotent."""

    def reserve(
        self, subnet: str, ip: IPAddress, owner: OwnerKey, expected_uid: str, now: float
    ) -> AllocationRecord:
        """Return the IP to `reserved` for its owner (the pod is gone, the owner keeps it).
        Refused (StaleOperation) unless owner and pod UID match. Idempotent."""

    def release(
        self, subnet: str, ip: IPAddress, owner: OwnerKey, expected_uid: str, now: float
    ) -> AllocationRecord | None:
        """Free the IP. `expected_uid` is the pod UID the caller saw ("" for a reserved IP).
        Refused (StaleOperation) when owner or UID differ. Returns the freed record, or None
        if the IP was already free (idempotent)."""

    def force_release(self, subnet: str, ip: IPAddress) -> AllocationRecord | None:
        """Operator override (`fipctl release`): free whatever holds the IP."""

    # --- reads ---------------------------------------------------------------------------
    def get(self, subnet: str, ip: IPAddress) -> AllocationRecord | None: ...

    def by_subnet(self, subnet: str) -> list[AllocationRecord]: ...

    def by_owner(self, owner: OwnerKey) -> list[AllocationRecord]:
        """Records of `owner`; a workload key (no instance) also returns its instances'."""

    def by_pod(self, subnet: str, pod_uid: str) -> AllocationRecord | None: ...

    def usage(self, subnet: str) -> Usage: ...

    # --- loss detection --------------------------------------------------------------------
    def initialise(self) -> None:
        """First setup of a new, empty store: write the marker so allocation may start.
        A no-op when the marker exists. Never call it to get past StateLost: after a loss only
        a rebuild (`begin_rebuild` ... `finish_rebuild`) may resume allocation."""

    def server_identity(self) -> str:
        """An opaque token naming the server incarnation(s) behind the store (for Redis the run
        ids of the primaries). It changes when a server restarts or a failover promotes a
        replica: events after which the last acknowledged writes may be gone even though the
        marker survived. The controllers rebuild from Kubernetes when it changes."""

    def verified_identity(self) -> str:
        """The `server_identity` recorded by the last `finish_rebuild` (or first `initialise`),
        kept in the store itself: "" when none was recorded. When it differs from
        `server_identity()`, the server restarted or failed over since the state was last
        known complete, whoever was watching at the time."""

    def check_intact(self) -> None:
        """Raise StateLost if the backing state was lost since initialisation (marker gone,
        new empty server) and no rebuild has been declared finished."""

    def begin_rebuild(self) -> None:
        """Declare a rebuild started: allocation stays refused, rebuild writes are allowed."""

    def finish_rebuild(self) -> None:
        """Declare a rebuild finished: write a fresh marker and the verified identity;
        allocation resumes."""

    def record(self, rec: AllocationRecord) -> AllocationRecord:
        """Rebuild path: write a record observed in Kubernetes (pod annotation). Refused with
        IPTaken if another owner/UID already holds the IP. Allowed while rebuilding."""

    def record_many(self, recs: Sequence[AllocationRecord]) -> list[AllocationRecord | StoreError]:
        """`record` for many records at once (a rebuild writes every bound IP): one result per
        record, in order, the written record or the error `record` would have raised. Not
        atomic as a whole; each record is. Errors that concern the whole store (StateLost
        aside) - StoreUnavailable - are raised."""
