"""`ClusterCache.listed_gone`: the pod list as evidence of a deletion no event showed. It must
name only pods that existed at the list (record older than the list by the skew) and are absent
from a cache synced across the whole check; never a cached (live) pod, never on an unsynced
cache."""

from __future__ import annotations

import ipaddress
from typing import Any

from controllers.cache import ClusterCache
from fip.core.owner import OwnerKey, OwnerKind
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState

NS = "default"
LIST_AT = 1_000.0
SKEW = 5.0


class _NoClient:
    def list(self, *args: Any, **kw: Any) -> dict[str, Any]:
        raise AssertionError("not started")

    def watch(self, *args: Any, **kw: Any) -> Any:
        raise AssertionError("not started")


def _pod(name: str, uid: str) -> dict[str, Any]:
    res = {"requests": {"fip.io/ip": "1"}, "limits": {"fip.io/ip": "1"}}
    return {
        "metadata": {"name": name, "namespace": NS, "uid": uid},
        "spec": {"containers": [{"name": "c", "resources": res}]},
        "status": {"phase": "Running"},
    }


def _rec(n: int, name: str, uid: str, at: float) -> AllocationRecord:
    return AllocationRecord(
        ip=ipaddress.ip_address(f"10.0.1.{n}"),
        subnet="s",
        owner=OwnerKey(NS, OwnerKind.POD, name),
        state=IPState.BOUND,
        policy=ReleasePolicy.POD,
        pod_name=name,
        pod_uid=uid,
        created_at=at,
        updated_at=at,
    )


def _cache(synced: bool = True) -> ClusterCache:
    cache = ClusterCache(_NoClient())
    cache._on_pod("ADDED", _pod("live", "u-live"), None)
    if synced:
        cache.informers["Pod"].synced.set()
    cache._listed(LIST_AT)
    return cache


def test_only_unseen_pods_of_records_older_than_the_list_are_gone() -> None:
    recs = [
        _rec(1, "live", "u-live", LIST_AT - 100),  # in the cache: live, never gone
        _rec(2, "old", "u-old", LIST_AT - 100),  # existed at the list, not in it: gone
        _rec(3, "new", "u-new", LIST_AT - SKEW + 0.1),  # may postdate the list: unknown
        _rec(4, "later", "u-later", LIST_AT + 10),  # written after the list: unknown
        _rec(5, "reserved", "", LIST_AT - 100),  # no pod named: nothing to prove
    ]
    assert _cache().listed_gone(recs, SKEW) == {"u-old"}


def test_updated_at_counts_not_only_created_at() -> None:
    rec = _rec(2, "old", "u-old", LIST_AT - 100)
    handed_over = AllocationRecord(**{**{f: getattr(rec, f) for f in rec.__slots__}, "updated_at": LIST_AT})
    assert _cache().listed_gone([handed_over], SKEW) == set()


def test_nothing_before_the_first_list_or_while_unsynced() -> None:
    recs = [_rec(2, "old", "u-old", LIST_AT - 100)]
    assert _cache(synced=False).listed_gone(recs, SKEW) == set()
    fresh = ClusterCache(_NoClient())
    fresh.informers["Pod"].synced.set()
    assert fresh.listed_gone(recs, SKEW) == set()


def test_a_deleted_pod_leaves_the_cache_and_counts_as_gone() -> None:
    cache = _cache()
    cache._on_pod("DELETED", _pod("live", "u-live"), None)
    assert cache.listed_gone([_rec(1, "live", "u-live", LIST_AT - 100)], SKEW) == {"u-live"}
