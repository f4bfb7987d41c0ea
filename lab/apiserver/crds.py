"""CustomResourceDefinitions written through the API take effect, as on a real server.

Creating a CRD registers its served versions (routes, discovery) and marks it Established;
deleting it stops serving them and drops the stored custom resources. The manifests in
`deploy/crds/` go through the same path at start-up.
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.apiserver.resources import from_crd
from lab.apiserver.status import invalid

if TYPE_CHECKING:
    from lab.apiserver.store import Store

Obj = dict[str, Any]


def check(obj: Obj) -> None:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    name = (obj.get("metadata") or {}).get("name", "")
    if not spec.get("group") or not names.get("plural") or not names.get("kind") or not spec.get("versions"):
        raise invalid(
            "CustomResourceDefinition", "apiextensions.k8s.io", name,
            [("spec", "FieldValueRequired", "Required value: group, names.plural, names.kind and versions are required")],
        )  # fmt: skip
    expected = f"{names['plural']}.{spec['group']}"
    if name != expected:
        raise invalid(
            "CustomResourceDefinition", "apiextensions.k8s.io", name,
            [("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')],
        )  # fmt: skip


def status(obj: Obj, now: str) -> Obj:
    spec = obj.get("spec") or {}
    return {
        "acceptedNames": spec.get("names") or {},
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
             "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
    }  # fmt: skip


def register(store: Store, obj: Obj) -> None:
    for t in from_crd(obj):
        store.registry.add(t)


def reregister(store: Store, old: Obj, new: Obj) -> None:
    """An updated CRD: serve its versions as they are now (schema, printer columns, scale ...);
    objects stay stored under the same group/resource."""
    spec = old.get("spec") or {}
    store.registry.remove_group_resource(spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
    register(store, new)


def unregister(store: Store, obj: Obj) -> None:
    spec = obj.get("spec") or {}
    group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
    key = f"{plural}.{group}"
    store.drop_all(key)
    store.registry.remove_group_resource(group, plural)
