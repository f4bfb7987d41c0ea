"""Strategic-merge metadata of the built-in types: `x-kubernetes-patch-strategy` and
`x-kubernetes-patch-merge-key`, per (Go type, JSON field), as the `patchStrategy`/`patchMergeKey`
struct tags of k8s.io/api declare them.

The Python client's models (source of the generated definitions) do not carry these tags, so they
are listed here. kubectl reads them from /openapi/v3 to build strategic merge patches for
`kubectl apply` (containers merged by name, ports by containerPort, env by name, ...). The lab's
own strategic-merge implementation (`lab.apiserver.patch`) keys lists by field name with the
same keys.
"""

from __future__ import annotations

MERGE = "merge"
# (Go type, field) -> (strategy, merge key or None)
PATCH_META: dict[tuple[str, str], tuple[str, str | None]] = {
    ("ObjectMeta", "ownerReferences"): (MERGE, "uid"),
    ("ObjectMeta", "finalizers"): (MERGE, None),
    ("PodSpec", "volumes"): ("merge,retainKeys", "name"),
    ("PodSpec", "initContainers"): (MERGE, "name"),
    ("PodSpec", "containers"): (MERGE, "name"),
    ("PodSpec", "ephemeralContainers"): (MERGE, "name"),
    ("PodSpec", "imagePullSecrets"): (MERGE, "name"),
    ("PodSpec", "hostAliases"): (MERGE, "ip"),
    ("PodSpec", "topologySpreadConstraints"): (MERGE, "topologyKey"),
    ("PodSpec", "schedulingGates"): (MERGE, "name"),
    ("PodSpec", "resourceClaims"): ("merge,retainKeys", "name"),
    ("Container", "ports"): (MERGE, "containerPort"),
    ("Container", "env"): (MERGE, "name"),
    ("Container", "volumeMounts"): (MERGE, "mountPath"),
    ("Container", "volumeDevices"): (MERGE, "devicePath"),
    ("EphemeralContainer", "ports"): (MERGE, "containerPort"),
    ("EphemeralContainer", "env"): (MERGE, "name"),
    ("EphemeralContainer", "volumeMounts"): (MERGE, "mountPath"),
    ("EphemeralContainer", "volumeDevices"): (MERGE, "devicePath"),
    ("PodStatus", "conditions"): (MERGE, "type"),
    ("PodStatus", "podIPs"): (MERGE, "ip"),
    ("PodStatus", "hostIPs"): (MERGE, "ip"),
    ("PodStatus", "resourceClaimStatuses"): ("merge,retainKeys", "name"),
    ("ServiceSpec", "ports"): (MERGE, "port"),
    ("ServiceStatus", "conditions"): (MERGE, "type"),
    ("ServiceAccount", "secrets"): (MERGE, "name"),
    ("NodeSpec", "podCIDRs"): (MERGE, None),
    ("NodeStatus", "conditions"): (MERGE, "type"),
    ("NodeStatus", "addresses"): (MERGE, "type"),
    ("NamespaceStatus", "conditions"): (MERGE, "type"),
    ("DeploymentSpec", "strategy"): ("retainKeys", None),
    ("DeploymentStatus", "conditions"): (MERGE, "type"),
    ("ReplicaSetStatus", "conditions"): (MERGE, "type"),
    ("StatefulSetStatus", "conditions"): (MERGE, "type"),
    ("DaemonSetStatus", "conditions"): (MERGE, "type"),
    ("JobStatus", "conditions"): (MERGE, "type"),
    ("PodDisruptionBudgetStatus", "conditions"): (MERGE, "type"),
}
