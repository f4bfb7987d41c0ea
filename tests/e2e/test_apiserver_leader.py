"""Leader election against the fake API server with the official client's own
`kubernetes.leaderelection` module: exactly one candidate leads; when it stops renewing, the other
takes over. 36.0.3 ships only `ConfigMapLock`, so a Lease lock (coordination.k8s.io/v1, the lock
fip's controllers use) is written here against the module's lock interface (get/create/update)."""

# ruff: noqa: F811  (fixtures imported from apiserver_lab are re-bound as test parameters)

from __future__ import annotations

import datetime
import pathlib
import threading
import time
from typing import Any

import pytest
from apiserver_lab import api, kubeconfig, wait_for  # noqa: F401
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord
from kubernetes.leaderelection.resourcelock.configmaplock import ConfigMapLock

pytestmark = pytest.mark.e2e


class StoppableConfigMapLock(ConfigMapLock):  # type: ignore[misc]
    """The shipped lock; `stopped` makes renewals fail, as when a leader process hangs."""

    stopped = False

    def update(self, name: str, namespace: str, updated_record: Any) -> bool:
        return False if self.stopped else bool(super().update(name, namespace, updated_record))


def _micro(value: Any) -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseLock:
    """A coordination.k8s.io/v1 Lease lock with the interface `LeaderElection` calls."""

    stopped = False

    def __init__(self, name: str, namespace: str, identity: str) -> None:
        self.name, self.namespace, self.identity = name, namespace, identity
        self.api = client.CoordinationV1Api()
        self.lease: Any = None

    def get(self, name: str, namespace: str) -> tuple[bool, Any]:
        try:
            self.lease = self.api.read_namespaced_lease(name, namespace)
        except ApiException as e:
            return False, e
        spec = self.lease.spec
        if not spec or not spec.holder_identity:
            return True, None
        return True, LeaderElectionRecord(
            spec.holder_identity,
            str(spec.lease_duration_seconds),
            str(spec.acquire_time),
            str(spec.renew_time),
        )

    def _spec(self, record: Any) -> dict[str, Any]:
        return {
            "holderIdentity": record.holder_identity,
            "leaseDurationSeconds": int(float(record.lease_duration)),
            "acquireTime": _micro(record.acquire_time),
            "renewTime": _micro(record.renew_time),
        }

    def create(self, name: str, namespace: str, election_record: Any) -> bool:
        try:
            self.api.create_namespaced_lease(
                namespace, {"metadata": {"name": name}, "spec": self._spec(election_record)}
            )
        except ApiException:
            return False
        return True

    def update(self, name: str, namespace: str, updated_record: Any) -> bool:
        if self.stopped:
            return False
        body = {
            "metadata": {"name": name, "resourceVersion": self.lease.metadata.resource_version},
            "spec": self._spec(updated_record),
        }
        try:
            self.api.replace_namespaced_lease(name, namespace, body)  # 409 if someone else wrote first
        except ApiException:
            return False
        return True


@pytest.mark.parametrize("kind", ["lease", "configmap"])
def test_one_leader_then_failover(kubeconfig: pathlib.Path, kind: str) -> None:
    config.load_kube_config(str(kubeconfig))  # the shipped lock uses the default client configuration
    name = f"fip-controllers-{kind}"
    leading: list[str] = []
    stopped: list[str] = []
    locks = {}
    for ident in ("cand-a", "cand-b"):
        lock: Any = (
            LeaseLock(name, "kube-system", ident)
            if kind == "lease"
            else StoppableConfigMapLock(name, "kube-system", ident)
        )
        locks[ident] = lock
        cfg = electionconfig.Config(
            lock,
            lease_duration=3,
            renew_deadline=2,
            retry_period=1,  # the module's minimums: whole seconds
            onstarted_leading=lambda ident=ident: leading.append(ident),
            onstopped_leading=lambda ident=ident: stopped.append(ident),
        )
        threading.Thread(target=leaderelection.LeaderElection(cfg).run, daemon=True).start()
    wait_for(lambda: leading, 10, "a leader")
    time.sleep(3.5)  # longer than the lease: a healthy leader keeps it
    assert len(leading) == 1, leading
    first = leading[0]
    other = "cand-b" if first == "cand-a" else "cand-a"
    locks[first].stopped = True
    wait_for(lambda: len(leading) == 2, 10, "fail-over")
    assert leading == [first, other] and stopped == [first]
    if kind == "lease":
        lease = client.CoordinationV1Api().read_namespaced_lease(name, "kube-system")
        assert lease.spec.holder_identity == other and lease.spec.lease_duration_seconds == 3
