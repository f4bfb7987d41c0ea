"""Builders shared by the store contract tests (subnets, owners, requests, snapshots)."""

from __future__ import annotations

import ipaddress

from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.subnet import IPAddress, IPRange, Subnet
from fip.store.protocol import AllocateRequest, Store


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def subnet(
    name: str = "dc1-a",
    cidr: str = "10.0.1.0/24",
    gateway: str = "10.0.1.1",
    *,
    ranges: tuple[tuple[str, str], ...] = (),
    excluded: tuple[str, ...] = (),
    reserved: tuple[str, ...] = (),
) -> Subnet:
    return Subnet(
        name=name,
        cidr=ipaddress.ip_network(cidr),
        gateway=ip(gateway),
        ranges=tuple(IPRange(ip(a), ip(b)) for a, b in ranges),
        excluded=frozenset(ip(x) for x in excluded),
        reserved=frozenset(ip(x) for x in reserved),
    )


def sts(name: str = "web", instance: int = 0, ns: str = "default") -> OwnerKey:
    return OwnerKey.of(ns, "StatefulSet", name, instance)


def deploy(name: str = "api", ns: str = "default") -> OwnerKey:
    return OwnerKey.of(ns, "Deployment", name)


def pod(name: str, ns: str = "default") -> OwnerKey:
    return OwnerKey.of(ns, "Pod", name)


def req(
    owner: OwnerKey,
    uid: str,
    subnet_name: str = "dc1-a",
    *,
    requested: str | None = None,
    pool: str = "",
    now: float = 100.0,
    policy: ReleasePolicy = ReleasePolicy.POD,
) -> AllocateRequest:
    return AllocateRequest(
        subnet=subnet_name,
        owner=owner,
        pod_uid=uid,
        pod_name=f"pod-{uid}",
        node="node-1",
        policy=policy,
        now=now,
        requested=None if requested is None else ip(requested),
        pool=pool,
    )


def snapshot(store: Store) -> object:
    """Everything a caller can observe, to prove a refused operation changed nothing."""
    out = []
    for s in store.subnets():
        out.append((s, tuple(store.by_subnet(s.name)), store.usage(s.name)))
    return (tuple(out), tuple(store.pools()))
