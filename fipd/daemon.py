"""CNI request handling: ADD / DEL / CHECK for the pods of this node.

ADD: validate the request (the same `fipd.cnispec` the plugin ran), find the pod's allocation
(waiting up to the annotation deadline), admit it against the node's subnets, plug it with the
node's driver, write the container state, mark the record bound, answer the CNI result. A step
that fails undoes the earlier ones (the driver undoes its own), so nothing is left half-plugged.
With an `Announcer` the gratuitous ARPs go out from a background thread right after the plug
(see fipd.announcer); without one the driver sends them inside `plug`.
A repeated ADD for a plugged container answers the stored result if CHECK still passes.

DEL: idempotent — no state means nothing to do; a missing netns is fine. The state file is
removed only after the unplug succeeded, so a failed DEL is retried by the next one.

Requests for one container are serialised (a lock per container ID); different containers run
in parallel. Every error is a `FipdError` whose code and message reach the runtime as CNI JSON,
but one: a thread stuck in a pod's network namespace (`bridge.errors.NamespaceStuck`) is not an
answer but the end of fipd (`on_stuck`, by default `fipd.stopping.namespace_stuck`: log, exit 3).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bridge.driver import Driver, PlugRequest, PodNetwork
from bridge.errors import CheckFailed, DatapathError, NamespaceStuck
from fip.core.annotation import Allocation
from fip.core.subnet import IPNetwork
from fip.kube.errors import KubeError
from fip.store.errors import StaleOperation, StoreError
from fip.store.protocol import Store
from fipd import cnispec, metrics
from fipd.announcer import Announcer
from fipd.cnispec import CNIError, Request
from fipd.errors import (
    BindRefused,
    CheckMismatch,
    DatapathFailed,
    FipdError,
    TryAgainLater,
    UnknownContainer,
    WrongNode,
)
from fipd.nodenet import NodeSubnets, NotOnThisNode
from fipd.pods import AllocationLookup
from fipd.result import add_result
from fipd.state import ContainerState, StateDir
from fipd.stopping import namespace_stuck

if TYPE_CHECKING:
    from bpf.hook import ClusterIP

log = logging.getLogger(__name__)


class Daemon:
    def __init__(
        self,
        *,
        node: str,
        driver: Driver,
        states: StateDir,
        lookup: AllocationLookup,
        subnets: NodeSubnets,
        store: Store | None = None,
        service_cidr: IPNetwork | None = None,
        annotation_timeout: float = 30.0,
        garp_count: int = 3,
        announcer: Announcer | None = None,
        clock: Callable[[], float] = time.time,
        on_stuck: Callable[[NamespaceStuck], object] = namespace_stuck,
        clusterip: ClusterIP | None = None,
    ) -> None:
        """`on_stuck` must end the process (the default does); a test's may record the call, and
        the request is then answered with code 11 (try again later)."""
        self.node = node
        self.driver = driver
        self.states = states
        self.lookup = lookup
        self.subnets = subnets
        self.store = store
        self.service_cidr = service_cidr
        self.annotation_timeout = annotation_timeout
        self.garp_count = garp_count
        self.announcer = announcer
        self.clock = clock
        self.on_stuck = on_stuck
        self.clusterip = clusterip  # bpf.hook: ClusterIP programs at ADD / DEL; never raises
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._locks_guard = threading.Lock()

    # --- entry point -------------------------------------------------------------------------
    def handle(self, env: dict[str, str], stdin: str) -> dict[str, object]:
        """One forwarded invocation -> `{"result": ...}` or `{"error": {...}}`. Never raises."""
        started = time.perf_counter()
        reply = self._reply(env, stdin)
        error = reply.get("error")
        outcome = f"error {error.get('code')}" if isinstance(error, dict) else "ok"
        metrics.observe(env.get("CNI_COMMAND", "")[:8], outcome, time.perf_counter() - started)
        return reply

    def _reply(self, env: dict[str, str], stdin: str) -> dict[str, object]:
        version = "1.0.0"
        try:
            req = cnispec.parse_request(env, stdin)
            version = req.cni_version
            return {"result": self._run(req)}
        except NamespaceStuck as err:
            self.on_stuck(err)
            restart = TryAgainLater("fipd is restarting: a thread was stuck in a network namespace", str(err))
            return {"error": restart.to_json(version)}
        except CNIError as err:  # FipdError is a CNIError too
            log.warning("%s %s: %s", env.get("CNI_COMMAND"), env.get("CNI_CONTAINERID"), err)
            return {"error": err.to_json(version)}
        except Exception as err:
            log.exception("unexpected failure in %s", env.get("CNI_COMMAND"))
            failure = FipdError("fipd internal error", f"{type(err).__name__}: {err}")
            return {"error": failure.to_json(version)}

    def _run(self, req: Request) -> dict[str, object] | None:
        if req.command == "VERSION":
            return cnispec.version_result(req.cni_version)
        with self._container(req.container_id):
            if req.command == "ADD":
                return self.add(req)
            if req.command == "DEL":
                self.delete(req)
            else:
                self.check(req)
            return None

    @contextmanager
    def _container(self, container_id: str) -> Iterator[None]:
        with self._locks_guard:
            lock, users = self._locks.get(container_id, (threading.Lock(), 0))
            self._locks[container_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._locks_guard:
                lock, users = self._locks[container_id]
                if users == 1:
                    del self._locks[container_id]
                else:
                    self._locks[container_id] = (lock, users - 1)

    # --- ADD ---------------------------------------------------------------------------------
    def add(self, req: Request) -> dict[str, object]:
        started = time.perf_counter()
        cnispec.require_netns(req.netns)
        old = self.states.get(req.container_id, req.ifname)
        if old is not None:
            reused = self._readd(req, old)
            if reused is not None:
                return reused
        ns, name, uid = (
            req.args["K8S_POD_NAMESPACE"],
            req.args["K8S_POD_NAME"],
            req.args.get("K8S_POD_UID", ""),
        )
        try:
            pod, alloc = self.lookup.find(ns, name, uid, self.annotation_timeout)
        except KubeError as err:
            raise TryAgainLater("cannot read the pod from the Kubernetes API", str(err)) from None
        try:
            self.subnets.admit(alloc)
        except NotOnThisNode as err:
            raise WrongNode(f"pod {ns}/{name}: allocation refused on node {self.node}", str(err)) from None
        except KubeError as err:
            raise TryAgainLater(
                "cannot read this node's subnets from the Kubernetes API",
                f"{err}; check that the Subnet CRD is installed (deploy/crds) and that --node / NODE_NAME "
                f"({self.node}) names this Node",
            ) from None
        self._evict(str(alloc.ip), req.container_id, req.ifname)
        garps = 0 if self.announcer is not None else self.garp_count
        plug = PlugRequest(req.container_id, req.netns, req.ifname, self._network(alloc), garps)
        plug_started = time.perf_counter()
        try:
            plugged = self.driver.plug(plug)
        except DatapathError as err:
            raise DatapathFailed(
                f"pod {ns}/{name}: plugging {alloc.ip} failed (nothing was left behind)", str(err)
            ) from None
        plug_ms = (time.perf_counter() - plug_started) * 1000
        result = add_result(req, alloc, plugged.mac, self.service_cidr)
        pod_uid = str((pod.get("metadata") or {}).get("uid") or uid)
        state = ContainerState(
            req.container_id, req.ifname, req.netns, ns, name, pod_uid, str(alloc.ip), alloc.prefix,
            str(alloc.gateway), alloc.vlan, alloc.subnet, plugged.mac, plugged.host_ifname or "",
            dict(plugged.state), result, self.clock(),
        )  # fmt: skip
        try:
            self.states.put(state)
            self._bind(alloc, pod_uid, f"{ns}/{name}")
        except BaseException:
            self._undo(req.container_id, req.netns, req.ifname, dict(plugged.state))
            raise
        if self.clusterip is not None:
            self.clusterip.plugged(req.netns, req.ifname, self.driver.name, f"{ns}/{name}")
        # Announce only after the tc programs are attached: adding the clsact qdisc deactivates the
        # interface's transmit queue for a moment, and a frame sent then is dropped (measured: with
        # one announcement, half of the macvlan plugs went unannounced when both ran together).
        if self.announcer is not None:
            self.announcer.submit(req.netns, req.ifname, alloc.ip, plugged.mac, self.garp_count)
        total_ms = (time.perf_counter() - started) * 1000
        log.info(
            "ADD %s pod %s/%s ip %s/%d vlan %d in %.1f ms (driver %.1f ms)",
            req.container_id[:12], ns, name, alloc.ip, alloc.prefix, alloc.vlan, total_ms, plug_ms,
        )  # fmt: skip
        return result

    def _readd(self, req: Request, old: ContainerState) -> dict[str, object] | None:
        """A repeated ADD: the stored result if the plug is intact, else unplug and start over."""
        try:
            self.driver.check(self._plug_request(req, old), old.driver)
            if old.netns == req.netns:
                return old.result
        except DatapathError as err:
            log.info("repeated ADD for %s: previous plug differs (%s); plugging again", req.container_id, err)
        self._unplug(old, f"repeated ADD for {req.container_id}: removing the old plug failed")
        return None

    def _evict(self, ip: str, container_id: str, ifname: str) -> None:
        """An IP lives in one sandbox: if another container of this node still holds it (a sandbox
        the runtime replaced without a DEL that reached fipd), unplug that one first. Not under the
        other container's lock (two ADDs could wait on each other); unplug and remove are
        idempotent, so a concurrent DEL of it is harmless."""
        holder = self.states.holder(ip)
        if holder is None or holder == (container_id, ifname):
            return
        old = self.states.get(*holder)
        if old is None:
            return
        log.warning("IP %s is still plugged into container %s (pod %s/%s); unplugging it for %s",
                    ip, old.container_id[:12], old.namespace, old.pod, container_id[:12])  # fmt: skip
        self._unplug(old, f"IP {ip} is still plugged into container {old.container_id}")

    def _bind(self, alloc: Allocation, pod_uid: str, who: str) -> None:
        if self.store is None:
            return
        try:
            self.store.bind(alloc.subnet, alloc.ip, pod_uid, self.node, self.clock())
        except StaleOperation as err:
            raise BindRefused(
                f"pod {who}: the store says {alloc.ip} belongs to another pod", str(err)
            ) from None
        except StoreError as err:  # the IP is allocated and annotated; bound is bookkeeping
            log.warning("pod %s: could not mark %s bound (controllers will): %s", who, alloc.ip, err)

    def _undo(self, container_id: str, netns: str, ifname: str, state: dict[str, str]) -> None:
        try:
            self.driver.unplug(container_id, _existing(netns), ifname, state)
        except DatapathError as err:
            log.error("undo of %s failed: %s", container_id, err)
        self.states.remove(container_id, ifname)

    # --- DEL / CHECK -------------------------------------------------------------------------
    def delete(self, req: Request) -> None:
        started = time.perf_counter()
        state = self.states.get(req.container_id, req.ifname)
        if state is None:
            return
        self._unplug(state, f"unplugging container {req.container_id} failed; DEL will be retried", req.netns)
        total_ms = (time.perf_counter() - started) * 1000
        log.info(
            "DEL %s pod %s/%s ip %s in %.1f ms",
            req.container_id[:12],
            state.namespace,
            state.pod,
            state.ip,
            total_ms,
        )

    def check(self, req: Request) -> None:
        cnispec.require_netns(req.netns)
        state = self.states.get(req.container_id, req.ifname)
        if state is None:
            raise UnknownContainer(f"no fip network for container {req.container_id} interface {req.ifname}")
        prev = req.config.get("prevResult")
        if isinstance(prev, dict):
            want = f"{state.ip}/{state.prefix}"
            have = [ip.get("address") for ip in prev.get("ips") or [] if isinstance(ip, dict)]
            if want not in have:
                raise CheckMismatch(
                    f"container {req.container_id}: prevResult lacks {want}", f"it lists {have}"
                )
        try:
            self.driver.check(self._plug_request(req, state), state.driver)
        except CheckFailed as err:
            raise CheckMismatch(
                f"container {req.container_id}: network differs from what fip plugged", str(err)
            ) from None
        except DatapathError as err:
            raise DatapathFailed(f"container {req.container_id}: CHECK failed", str(err)) from None

    # --- start-up sweep ----------------------------------------------------------------------
    def sweep(self, live_pod_uids: set[str]) -> list[str]:
        """Unplug containers whose pod is gone (UID not in `live_pod_uids`, a fresh list of this
        node's pods) or whose netns vanished. Returns the swept container IDs."""
        swept = []
        for state in self.states.all():
            if state.pod_uid in live_pod_uids and os.path.exists(state.netns):
                continue
            with self._container(state.container_id):
                try:
                    self._unplug(state, f"sweep: unplugging {state.container_id} failed")
                except NamespaceStuck as err:
                    self.on_stuck(err)
                    raise
                except DatapathFailed as err:
                    log.error("%s", err)
                    continue
            log.info(
                "sweep: unplugged %s (pod %s/%s gone)", state.container_id[:12], state.namespace, state.pod
            )
            swept.append(state.container_id)
        return swept

    # --- helpers -----------------------------------------------------------------------------
    def _unplug(self, state: ContainerState, failure: str, netns: str = "") -> None:
        """Unplug a stored container (in `netns` when given, else its recorded one), then forget
        it. A driver failure becomes `DatapathFailed(failure, driver's words)` and keeps the
        state, so a later DEL or sweep retries."""
        netns = netns or state.netns
        if self.clusterip is not None:
            self.clusterip.unplugged(_existing(netns), state.ifname)
        try:
            self.driver.unplug(state.container_id, _existing(netns), state.ifname, state.driver)
        except DatapathError as err:
            raise DatapathFailed(failure, str(err)) from None
        self.states.remove(state.container_id, state.ifname)

    def _network(self, alloc: Allocation) -> PodNetwork:
        svc = (
            self.service_cidr if self.service_cidr and self.service_cidr.version == alloc.ip.version else None
        )
        return PodNetwork(alloc.ip, alloc.prefix, alloc.gateway, alloc.vlan, svc)

    def _plug_request(self, req: Request, state: ContainerState) -> PlugRequest:
        ip = ipaddress.ip_address(state.ip)
        svc = self.service_cidr if self.service_cidr and self.service_cidr.version == ip.version else None
        net = PodNetwork(ip, state.prefix, ipaddress.ip_address(state.gateway), state.vlan, svc)
        return PlugRequest(state.container_id, req.netns or state.netns, state.ifname, net, 0)


def _existing(netns: str) -> str | None:
    return netns if netns and os.path.exists(netns) else None
