"""Errors of the store layer (all are `fip.core.errors.FipError`).

StoreError
├── UnknownSubnet      the subnet is not defined in the store
├── NoFreeIP           the subnet (or pool) has no free address left
├── IPTaken            a requested / recorded IP is held by someone else
├── NotAllocatable     a requested IP is outside the subnet's ranges, excluded, or the gateway
├── PoolFull           the pool's cap is reached
├── PoolForbidden      the namespace may not use the pool
├── UnknownPool        the pool is not defined in the subnet
├── StaleOperation     bind / reserve / release named a pod UID or owner that no longer holds the IP
├── SubnetInUse        a change would orphan allocated IPs
├── StateLost          the backing store lost its state; allocation waits for a rebuild
│   └── ServerChanged  the server restarted or failed over since its state was verified (it
│                      may have dropped the last writes); allocation waits for a rebuild
└── StoreUnavailable   the backing store cannot be reached (connection, timeout, auth)
"""

from __future__ import annotations

from fip.core.errors import FipError


class StoreError(FipError):
    pass


class UnknownSubnet(StoreError):
    pass


class NoFreeIP(StoreError):
    pass


class IPTaken(StoreError):
    pass


class NotAllocatable(StoreError):
    pass


class PoolFull(StoreError):
    pass


class PoolForbidden(StoreError):
    pass


class UnknownPool(StoreError):
    pass


class StaleOperation(StoreError):
    pass


class SubnetInUse(StoreError):
    pass


class StateLost(StoreError):
    pass


class ServerChanged(StateLost):
    pass


class StoreUnavailable(StoreError):
    pass
