"""Where each kind fip touches lives in the REST API, and the cache key client-go uses.

Pure data: no `kubernetes` import, so the core, the lab and the tests can name resources without
pulling in the client. `Resource.path` builds the REST path the official client is then asked to
call. A name or namespace that is not a Kubernetes name (anything but letters, digits and
`-._:@`) is refused with ValueError rather than escaped: such an object cannot exist, and a
hostile name (`../`, `?watch=1`) must never change which path is called.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{_quote(namespace)}"
        base += f"/{self.plural}"
        if name:
            base += f"/{_quote(name)}"
        if sub:
            base += f"/{sub}"
        return base

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


_NAME = re.compile(r"^[A-Za-z0-9._:@-]+$")


def _quote(part: str) -> str:
    if not _NAME.match(part) or part in (".", ".."):
        raise ValueError(f"{part!r} is not a Kubernetes object name")
    return part


PODS = Resource("", "v1", "pods", "Pod")
NODES = Resource("", "v1", "nodes", "Node", namespaced=False)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
SERVICES = Resource("", "v1", "services", "Service")
EVENTS = Resource("", "v1", "events", "Event")
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
ENDPOINTSLICES = Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
REPLICASETS = Resource("apps", "v1", "replicasets", "ReplicaSet")
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")
TAPPS = Resource("apps.tkestack.io", "v1", "tapps", "TApp")
SUBNETS = Resource("fip.io", "v1", "subnets", "Subnet", namespaced=False)
POOLS = Resource("fip.io", "v1", "pools", "Pool", namespaced=False)
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False)


def key_of(obj: Mapping[str, Any]) -> str:
    """The cache key client-go uses: `namespace/name`, or `name` for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))
