"""TypedDicts for the raw Kubernetes JSON fip reads: the boundary types.

Objects enter fip as decoded API JSON; these describe the fields fip looks at, no more (every
dict is `total=False`: the API omits empty fields, so read with `.get`). They are documentation
the type checker holds us to, not validation: a value read from here is still outside input and
goes through `fip.core`'s parsers before it decides anything.
"""

from __future__ import annotations

from typing import Any, TypedDict


class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class ObjectMeta(TypedDict, total=False):
    name: str
    generateName: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]
    finalizers: list[str]


class ListMeta(TypedDict, total=False):
    resourceVersion: str
    # `continue` is a keyword: read it as meta.get("continue")


class Condition(TypedDict, total=False):
    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str
    observedGeneration: int


class ResourceRequirements(TypedDict, total=False):
    requests: dict[str, str]
    limits: dict[str, str]


class Container(TypedDict, total=False):
    name: str
    image: str
    resources: ResourceRequirements


class PodSpec(TypedDict, total=False):
    nodeName: str
    schedulerName: str
    priority: int
    containers: list[Container]
    initContainers: list[Container]
    hostNetwork: bool


class PodIP(TypedDict, total=False):
    ip: str


class PodStatus(TypedDict, total=False):
    phase: str
    podIP: str
    podIPs: list[PodIP]
    hostIP: str
    conditions: list[Condition]
    nominatedNodeName: str


class Pod(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


class NodeAddress(TypedDict, total=False):
    type: str  # InternalIP, ExternalIP, Hostname
    address: str


class NodeSpec(TypedDict, total=False):
    unschedulable: bool


class NodeStatus(TypedDict, total=False):
    addresses: list[NodeAddress]
    conditions: list[Condition]


class Node(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: NodeSpec
    status: NodeStatus


class PodTemplate(TypedDict, total=False):
    metadata: ObjectMeta
    spec: PodSpec


class WorkloadSpec(TypedDict, total=False):
    replicas: int
    selector: dict[str, Any]
    template: PodTemplate


class WorkloadStatus(TypedDict, total=False):
    replicas: int
    readyReplicas: int
    observedGeneration: int


class ReplicaSet(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: WorkloadSpec
    status: WorkloadStatus


class Deployment(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: WorkloadSpec
    status: WorkloadStatus


class StatefulSetOrdinals(TypedDict, total=False):
    start: int


class StatefulSetSpec(WorkloadSpec, total=False):
    serviceName: str
    ordinals: StatefulSetOrdinals


class StatefulSet(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: StatefulSetSpec
    status: WorkloadStatus


class TAppSpec(WorkloadSpec, total=False):
    statuses: dict[str, str]  # instance id -> desired status ("Killed")
    templates: dict[str, str]
    templatePool: dict[str, PodTemplate]


class TAppStatus(TypedDict, total=False):
    replicas: int
    statuses: dict[str, str]
    appStatus: str


class TApp(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: TAppSpec
    status: TAppStatus


class ServicePort(TypedDict, total=False):
    name: str
    protocol: str
    port: int
    targetPort: int | str


class ServiceSpec(TypedDict, total=False):
    type: str
    clusterIP: str
    clusterIPs: list[str]
    ports: list[ServicePort]
    selector: dict[str, str]
    sessionAffinity: str
    sessionAffinityConfig: dict[str, Any]


class Service(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: ServiceSpec


class EndpointConditions(TypedDict, total=False):
    ready: bool
    serving: bool
    terminating: bool


class Endpoint(TypedDict, total=False):
    addresses: list[str]
    conditions: EndpointConditions
    nodeName: str
    targetRef: dict[str, str]


class EndpointPort(TypedDict, total=False):
    name: str
    protocol: str
    port: int


class EndpointSlice(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    addressType: str
    endpoints: list[Endpoint]
    ports: list[EndpointPort]


class LeaseSpec(TypedDict, total=False):
    holderIdentity: str
    leaseDurationSeconds: int
    acquireTime: str
    renewTime: str
    leaseTransitions: int


class Lease(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: LeaseSpec


class Subnet(TypedDict, total=False):
    """fip.io/v1 Subnet; `spec` is parsed by fip.core.spec.parse_subnet."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any]
    status: dict[str, Any]


class Pool(TypedDict, total=False):
    """fip.io/v1 Pool; `spec` is parsed by fip.core.poolspec.parse_pool."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any]
    status: dict[str, Any]


class WatchEvent(TypedDict):
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: dict[str, Any]
