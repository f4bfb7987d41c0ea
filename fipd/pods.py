"""Finding a pod's allocation for CNI ADD, waiting for it up to a deadline.

The extender writes `fip.io/allocation` in the same API call that binds the pod to the node, so
when the kubelet starts the sandbox the annotation is normally already there; the wait covers a
lagging cache and an extender that binds before annotating. The lookup first asks the local pod
cache (`fipd.podcache`, a watch of this node's pods: no API round trip on the hot path) and falls
back to a GET. A pod that does not request `fip.io/ip` fails at once with the likely cause
instead of waiting out the deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from fip.core import annotation
from fip.core.annotation import Allocation
from fip.core.errors import InvalidInput
from fipd.errors import BadAllocation, NoAllocation, PodNotFound, PodReplaced

Obj = dict[str, Any]
RESOURCE = "fip.io/ip"


class PodCache(Protocol):
    def get(self, namespace: str, name: str) -> Obj | None: ...

    def wait(self, timeout: float) -> None:
        """Return when the cache changed or `timeout` seconds passed."""


def requests_fip(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = container.get("resources") or {}
        if RESOURCE in (res.get("requests") or {}) or RESOURCE in (res.get("limits") or {}):
            return True
    return False


def _annotation(pod: Obj) -> object:
    return ((pod.get("metadata") or {}).get("annotations") or {}).get(annotation.KEY)


class AllocationLookup:
    """`get_pod(ns, name)` returns the pod or None (404); other errors propagate (KubeError)."""

    def __init__(
        self,
        get_pod: Callable[[str, str], Obj | None],
        clock: Callable[[], float],
        cache: PodCache | None = None,
        poll: float = 0.2,
    ) -> None:
        self._get_pod = get_pod
        self._clock = clock
        self._cache = cache
        self._poll = poll
        self._sleep = threading.Event().wait

    def find(self, namespace: str, name: str, uid: str, timeout: float) -> tuple[Obj, Allocation]:
        deadline = self._clock() + timeout
        who = f"pod {namespace}/{name}"
        while True:
            # The cache only answers when the runtime named the pod UID: a stale cached pod of the
            # same name (deleted and recreated) is then recognised and re-read.
            pod = self._cache.get(namespace, name) if self._cache and uid else None
            if pod is None or _annotation(pod) is None or not _uid_ok(pod, uid):
                pod = self._get_pod(namespace, name)
            if pod is None:
                raise PodNotFound(f"{who} does not exist", "it was deleted before its sandbox started")
            if not _uid_ok(pod, uid):
                raise PodReplaced(
                    f"{who} was replaced",
                    f"the sandbox is for UID {uid}, the pod now has UID "
                    f"{(pod.get('metadata') or {}).get('uid')}",
                )
            value = _annotation(pod)
            if value is not None:
                try:
                    return pod, annotation.parse(value)
                except InvalidInput as err:
                    raise BadAllocation(f"{who} has an invalid allocation annotation", str(err)) from None
            if not requests_fip(pod):
                raise NoAllocation(
                    f"{who} has no {annotation.KEY} annotation",
                    f"it does not request the extended resource {RESOURCE}, so the fip scheduler extender "
                    f"never allocated it an IP; add resources.limits {{{RESOURCE}: 1}} to one container, or "
                    "do not run it on a fip node",
                )
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise NoAllocation(
                    f"{who} has no {annotation.KEY} annotation after {timeout:g} s",
                    f"it requests {RESOURCE} but was bound without fip's extender: check that "
                    f"kube-scheduler lists fip-extender with bindVerb and managedResources {RESOURCE}, "
                    "and the extender's log",
                )
            if self._cache is not None:
                self._cache.wait(min(remaining, self._poll))
            else:
                self._sleep(min(remaining, self._poll))


def _uid_ok(pod: Obj, uid: str) -> bool:
    return not uid or (pod.get("metadata") or {}).get("uid") == uid
