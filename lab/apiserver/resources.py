"""What the fake API server serves: one `ResourceType` per group/version/resource.

Built-in types are listed here; fip's custom resources (and any other CRD) come from the
`apiextensions.k8s.io/v1` manifests in `deploy/crds/`, read at start-up, so the server serves
exactly what the manifests declare (group, version, scope, names, subresources, scale paths,
schema). A directory with no manifests is fine: the built-ins are still served.
"""

from __future__ import annotations

import dataclasses
import pathlib
from dataclasses import dataclass, field
from typing import Any

import yaml

Obj = dict[str, Any]

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

# Field selectors each type supports besides metadata.name / metadata.namespace
# (`ToSelectableFields` in kubernetes/pkg/registry/*/strategy.go).
POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)


@dataclass(frozen=True, slots=True)
class Scale:
    """Where a type keeps its replica count, for the `scale` subresource (CRD scale paths)."""

    spec_replicas: str = ".spec.replicas"
    status_replicas: str = ".status.replicas"
    label_selector: str | None = ".status.selector"


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    scale: Scale | None = None
    fields: tuple[str, ...] = ()
    custom: bool = False
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(VERBS)  # ("create",) for review-style resources that store nothing
    schema: Obj | None = field(default=None, compare=False, hash=False)
    # a CRD version's additionalPrinterColumns (lab.apiserver.tables)
    printer_columns: tuple[Obj, ...] = field(default=(), compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def key(self) -> str:
        """Storage key: `pods`, `deployments.apps`, `subnets.fip.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def selectable_fields(self) -> tuple[str, ...]:
        return ("metadata.name", "metadata.namespace", *self.fields)


def _core(plural: str, kind: str, namespaced: bool, **kw: Any) -> ResourceType:
    return ResourceType("", "v1", plural, kind, namespaced, singular=kind.lower(), **kw)


APPS_SCALE = Scale(label_selector=None)

BUILTIN: tuple[ResourceType, ...] = (
    _core("namespaces", "Namespace", False, short_names=("ns",), has_status=True, fields=("status.phase",)),
    _core("nodes", "Node", False, short_names=("no",), has_status=True, fields=("spec.unschedulable",)),
    _core("pods", "Pod", True, short_names=("po",), has_status=True, fields=POD_FIELDS),
    _core("services", "Service", True, short_names=("svc",), has_status=True),
    _core("configmaps", "ConfigMap", True, short_names=("cm",)),
    _core("secrets", "Secret", True, fields=("type",)),
    _core("serviceaccounts", "ServiceAccount", True, short_names=("sa",)),
    _core("endpoints", "Endpoints", True, short_names=("ep",)),
    _core("events", "Event", True, short_names=("ev",), fields=EVENT_FIELDS),
    ResourceType("events.k8s.io", "v1", "events", "Event", True, singular="event", short_names=("ev",)),
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, singular="endpointslice"),
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        "deployment",
        ("deploy",),
        True,
        Scale(label_selector=None),
    ),
    ResourceType(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        True,
        "replicaset",
        ("rs",),
        True,
        Scale(label_selector=None),
        fields=("status.replicas",),
    ),
    ResourceType(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        True,
        "statefulset",
        ("sts",),
        True,
        Scale(label_selector=None),
    ),
    ResourceType("apps", "v1", "controllerrevisions", "ControllerRevision", True, "controllerrevision"),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True, "lease"),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        "selfsubjectaccessreview",
        verbs=("create",),
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        False,
        "subjectaccessreview",
        verbs=("create",),
    ),
    # Served as plain stored objects (no controller behind them), so clients that touch them work:
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, "daemonset", ("ds",), True),
    ResourceType(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        "horizontalpodautoscaler",
        ("hpa",),
        True,
    ),
    ResourceType(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        "poddisruptionbudget",
        ("pdb",),
        True,
    ),
    ResourceType("batch", "v1", "jobs", "Job", True, "job", (), True),
    ResourceType("batch", "v1", "cronjobs", "CronJob", True, "cronjob", ("cj",), True),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True, "role"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, "rolebinding"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, "clusterrole"),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        False,
        "clusterrolebinding",
    ),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        "customresourcedefinition",
        ("crd", "crds"),
        True,
    ),
)

# The `all` category (`kubectl get all`), as the real registries declare it.
ALL_CATEGORY = {
    "pods", "services", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs",
    "horizontalpodautoscalers",
}  # fmt: skip


def _in_all(t: ResourceType) -> bool:
    return t.plural in ALL_CATEGORY and t.group != "events.k8s.io"


BUILTIN = tuple(dataclasses.replace(t, categories=("all",)) if _in_all(t) else t for t in BUILTIN)

# tkestack/tapp ships only a v1beta1 CRD; this is its apiextensions.k8s.io/v1 equivalent (status and
# scale subresources as in pkg/tapp/crd.go), installed at start-up unless deploy/crds has one.
TAPP_CRD: Obj = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "tapps.apps.tkestack.io"},
    "spec": {
        "group": "apps.tkestack.io",
        "scope": "Namespaced",
        "names": {"plural": "tapps", "singular": "tapp", "kind": "TApp", "listKind": "TAppList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.scaleLabelSelector",
                    },
                },
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


def from_crd(doc: Obj) -> list[ResourceType]:
    """The served versions of one `CustomResourceDefinition` manifest."""
    spec = doc.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for ver in spec.get("versions") or []:
        if not ver.get("served", True):
            continue
        sub = ver.get("subresources") or {}
        scale = None
        if "scale" in sub:
            s = sub["scale"] or {}
            scale = Scale(
                s.get("specReplicasPath", ".spec.replicas"),
                s.get("statusReplicasPath", ".status.replicas"),
                s.get("labelSelectorPath"),
            )
        sel = tuple(f["jsonPath"].lstrip(".") for f in ver.get("selectableFields") or [])
        out.append(
            ResourceType(
                group=spec["group"],
                version=ver["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular", names["kind"].lower()),
                short_names=tuple(names.get("shortNames") or ()),
                has_status="status" in sub,
                scale=scale,
                fields=sel,
                custom=True,
                categories=tuple(names.get("categories") or ()),
                schema=(ver.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(ver.get("additionalPrinterColumns") or ()),
            )
        )
    return out


def load_crds(crd_dir: pathlib.Path | None) -> list[tuple[Obj, list[ResourceType]]]:
    """Every CRD manifest in `crd_dir` (*.yaml, *.yml; multi-document files allowed)."""
    if crd_dir is None or not crd_dir.is_dir():
        return []
    found = []
    for path in sorted([*crd_dir.glob("*.yaml"), *crd_dir.glob("*.yml")]):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                found.append((doc, from_crd(doc)))
    return found


class Registry:
    """Lookup by (group, version, plural) for routing and by key/kind/short name for callers."""

    def __init__(self, types: list[ResourceType]) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._by_name: dict[str, ResourceType] = {}
        self.generation = 0  # bumped on every change: cached OpenAPI documents are rebuilt
        for t in types:
            self.add(t)

    def add(self, t: ResourceType) -> None:
        self.generation += 1
        self._by_gvr[(t.group, t.version, t.plural)] = t
        for name in (t.key, t.plural, t.kind.lower(), t.singular, *t.short_names):
            if name:
                self._by_name.setdefault(name, t)
        self._by_name[t.key] = t

    def remove_group_resource(self, group: str, plural: str) -> None:
        self.generation += 1
        for gvr in [k for k in self._by_gvr if k[0] == group and k[2] == plural]:
            del self._by_gvr[gvr]
        for name in [n for n, t in self._by_name.items() if t.group == group and t.plural == plural]:
            del self._by_name[name]

    def route(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def lookup(self, name: str) -> ResourceType:
        """`pods`, `Pod`, `po`, `deployments.apps`, `subnets.fip.io` → the type (KeyError if none)."""
        t = self._by_name.get(name) or self._by_name.get(name.lower())
        if t is None:
            raise KeyError(f"unknown resource {name!r}")
        return t

    def all(self) -> list[ResourceType]:
        return list(self._by_gvr.values())

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for g, v, _ in self._by_gvr:
            if g and v not in out.setdefault(g, []):
                out[g].append(v)
        return out
