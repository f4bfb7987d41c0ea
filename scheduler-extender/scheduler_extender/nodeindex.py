"""The extender's view of the cluster: node -> subnet index, workloads, and the store's definitions.

Nodes, ReplicaSets and Deployments come from `fip.kube` informers (list + watch, re-list on 410).
Subnet and Pool definitions and per-subnet usage are read from the store, as `fipctl subnets
apply` or the controllers wrote them, and refreshed every `refresh` seconds in the background, so
a filter over 5,000 names costs dictionary lookups and no store round trip per node.

Never stale-as-current: `ready()` is False until every informer has synced (an informer clears
`synced` while it re-lists) and the store answered the last refresh with its state intact. Usage
read here is advisory (it can be up to `refresh` seconds old); the atomic allocation at bind is
what decides, and a bind refused for lack of room refreshes that subnet at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from fip.core.errors import FipError, InvalidInput
from fip.core.nodesubnet import NodeSubnetIndex, node_facts
from fip.core.record import Usage
from fip.core.subnet import Pool, Subnet
from fip.store.protocol import Store

log = logging.getLogger("fip.extender")
Obj = dict[str, Any]


class InformerLike(Protocol):
    synced: threading.Event

    def add_handler(self, handler: Callable[[str, Obj, Obj | None], None]) -> None: ...

    def get(self, key: str) -> Obj | None: ...

    def start(self) -> object: ...

    def stop(self, timeout: float = 5.0) -> None: ...


class ClusterView:
    def __init__(
        self,
        store: Store,
        *,
        nodes: InformerLike | None = None,
        replicasets: InformerLike | None = None,
        deployments: InformerLike | None = None,
        refresh: float = 2.0,
    ) -> None:
        self.store = store
        self._informers = {"nodes": nodes, "replicasets": replicasets, "deployments": deployments}
        self._refresh = refresh
        self._lock = threading.Lock()
        self._index = NodeSubnetIndex()
        self._subnets: dict[str, Subnet] = {}
        self._pools: dict[str, Pool] = {}
        self._usage: dict[str, Usage] = {}
        self._loaded = False
        self._store_problem = "the store has not been read yet"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refreshes = 0
        if nodes is not None:
            nodes.add_handler(self._on_node)

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ClusterView:
        self.refresh()
        for inf in self._informers.values():
            if inf is not None:
                inf.start()
        self._thread = threading.Thread(target=self._loop, name="extender-refresh", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for inf in self._informers.values():
            if inf is not None:
                inf.stop()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self._refresh):
            self.refresh()

    # --- store definitions ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read subnets, pools and usage; record whether the store is usable."""
        try:
            subnets = {s.name: s for s in self.store.subnets()}
            pools = {p.name: p for p in self.store.pools()}
            usage = {name: self.store.usage(name) for name in subnets}
            self.store.check_intact()
        except FipError as err:
            with self._lock:
                self._store_problem = str(err)
            log.warning("store refresh failed: %s", err)
            return
        with self._lock:
            self._index.set_subnets(subnets.values())
            self._subnets, self._pools, self._usage = subnets, pools, usage
            self._loaded = True
            self._store_problem = ""
            self.refreshes += 1

    def refresh_usage(self, subnet: str) -> None:
        try:
            use = self.store.usage(subnet)
        except FipError:
            return
        with self._lock:
            self._usage[subnet] = use

    def note_allocated(self, subnet: str) -> None:
        """Count one of our own allocations until the next refresh reads the real figure."""
        with self._lock:
            use = self._usage.get(subnet)
            if use is not None:
                self._usage[subnet] = Usage(use.subnet, use.total, use.allocated + 1, use.reserved)

    def definitions(self) -> tuple[Mapping[str, Subnet], Mapping[str, Usage], Mapping[str, Pool]]:
        with self._lock:
            return self._subnets, dict(self._usage), self._pools

    # --- nodes ----------------------------------------------------------------------------------
    def _on_node(self, kind: str, node: Obj, old: Obj | None) -> None:
        if kind == "DELETED":
            name = (node.get("metadata") or {}).get("name")
            with self._lock:
                self._index.remove_node(str(name))
            return
        self.put_node(node)

    def put_node(self, node: Obj) -> None:
        try:
            facts = node_facts(node)
        except InvalidInput:
            return
        with self._lock:
            self._index.put_node(facts)

    def remove_node(self, name: str) -> None:
        with self._lock:
            self._index.remove_node(name)

    def node_subnets(
        self,
    ) -> tuple[Callable[[str], frozenset[str]], Callable[[str], bool], Callable[[str], bool]]:
        """(subnets_of, known, populated) over the current index; call under `locked()`."""
        idx = self._index
        return idx.subnets_of, idx.known, idx.populated

    def index(self) -> NodeSubnetIndex:
        """The live index; read it under `locked()`."""
        return self._index

    def locked(self) -> threading.Lock:
        return self._lock

    # --- workloads ------------------------------------------------------------------------------
    def deployment_of(self, namespace: str, replicaset: str) -> str | None:
        inf = self._informers["replicasets"]
        rs = inf.get(f"{namespace}/{replicaset}") if inf is not None else None
        if rs is None:
            return None
        for ref in (rs.get("metadata") or {}).get("ownerReferences") or []:
            if isinstance(ref, dict) and ref.get("controller") is True and ref.get("kind") == "Deployment":
                return str(ref.get("name") or "")
        return ""

    def replicas(self, namespace: str, deployment: str) -> int | None:
        inf = self._informers["deployments"]
        dep = inf.get(f"{namespace}/{deployment}") if inf is not None else None
        if dep is None:
            return None
        value = (dep.get("spec") or {}).get("replicas", 1)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    # --- readiness ------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Why the extender must not answer yet; empty when ready."""
        out = [
            f"{name} cache not synced"
            for name, inf in self._informers.items()
            if inf is not None and not inf.synced.is_set()
        ]
        with self._lock:
            if self._store_problem:
                out.append(self._store_problem)
            elif not self._loaded:
                out.append("subnet definitions not loaded")
        return out
