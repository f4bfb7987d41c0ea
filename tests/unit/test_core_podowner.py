"""Pod -> owner key: the rules the extender and the controllers share, incl. odd chains."""

from __future__ import annotations

from typing import Any

import pytest
from core_strategies import dns_labels, subdomains
from hypothesis import given, settings
from hypothesis import strategies as st

from fip.core.errors import InvalidInput
from fip.core.owner import OwnerKey, OwnerKind
from fip.core.podowner import PodOwner, resolve, resolve_owner
from fip.core.policy import ReleasePolicy


def _pod(
    name: str = "web-0",
    ns: str = "default",
    refs: list[Any] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if refs is not None:
        meta["ownerReferences"] = refs
    if labels is not None:
        meta["labels"] = labels
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta}


def _ref(kind: str, name: str, api: str = "apps/v1", controller: Any = True) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "name": name, "uid": "u", "controller": controller}


def _none(ns: str, rs: str) -> str | None:
    return None


def test_statefulset_ordinal_from_label_then_name() -> None:
    pod = _pod("web-3", refs=[_ref("StatefulSet", "web")], labels={"apps.kubernetes.io/pod-index": "3"})
    assert resolve_owner(pod, _none) == OwnerKey.of("default", "StatefulSet", "web", 3)
    # no label (Kubernetes < 1.28): the name suffix
    assert resolve_owner(_pod("web-12", refs=[_ref("StatefulSet", "web")]), _none).instance == "12"
    # a label that is not an ordinal is ignored in favour of the name
    odd = _pod("web-4", refs=[_ref("StatefulSet", "web")], labels={"apps.kubernetes.io/pod-index": "04"})
    assert resolve_owner(odd, _none).instance == "4"
    # the label wins over the name (ordinals.start shifts names? the label is authoritative)
    both = _pod("web-4", refs=[_ref("StatefulSet", "web")], labels={"apps.kubernetes.io/pod-index": "7"})
    assert resolve_owner(both, _none).instance == "7"


def test_statefulset_names_with_dashes_and_digits() -> None:
    pod = _pod("db-1-2", refs=[_ref("StatefulSet", "db-1")])
    assert resolve_owner(pod, _none) == OwnerKey.of("default", "StatefulSet", "db-1", 2)


@pytest.mark.parametrize("name", ["web", "web-01", "web-x", "other-0", "web-1234567890"])
def test_statefulset_without_ordinal_is_its_own_owner(name: str) -> None:
    pod = _pod(name, refs=[_ref("StatefulSet", "web")])
    assert resolve_owner(pod, _none) == OwnerKey("default", OwnerKind.POD, name)


def test_tapp_instance_from_label() -> None:
    ref = _ref("TApp", "t", "apps.tkestack.io/v1")
    pod = _pod("t-5", refs=[ref], labels={"tapp_instance_key": "5"})
    assert resolve_owner(pod, _none) == OwnerKey.of("default", "TApp", "t", 5)
    assert resolve_owner(_pod("t-6", refs=[ref]), _none).instance == "6"
    # a TApp kind from another group is not a TApp
    other = _pod("t-5", refs=[_ref("TApp", "t", "example.com/v1")], labels={"tapp_instance_key": "5"})
    assert resolve_owner(other, _none).kind is OwnerKind.POD


def test_replicaset_resolves_to_its_deployment() -> None:
    seen: list[tuple[str, str]] = []

    def lookup(ns: str, rs: str) -> str | None:
        seen.append((ns, rs))
        return "api"

    pod = _pod("api-5d9c-abcde", ns="prod", refs=[_ref("ReplicaSet", "api-5d9c")])
    assert resolve_owner(pod, lookup) == OwnerKey("prod", OwnerKind.DEPLOYMENT, "api")
    assert seen == [("prod", "api-5d9c")]


def test_unknown_replicaset_strips_the_template_hash() -> None:
    pod = _pod(
        "api-v2-5d9c-x", refs=[_ref("ReplicaSet", "api-v2-5d9c")], labels={"pod-template-hash": "5d9c"}
    )
    assert resolve_owner(pod, _none) == OwnerKey("default", OwnerKind.DEPLOYMENT, "api-v2")
    # hash label that is not the suffix, or no label: the pod owns its IP
    wrong = _pod("p", refs=[_ref("ReplicaSet", "api-v2-5d9c")], labels={"pod-template-hash": "zzz"})
    assert resolve_owner(wrong, _none).kind is OwnerKind.POD
    assert resolve_owner(_pod("p", refs=[_ref("ReplicaSet", "api-5d9c")]), _none).kind is OwnerKind.POD
    # the whole name is the hash: nothing left to be a Deployment name
    whole = _pod("p", refs=[_ref("ReplicaSet", "-5d9c")], labels={"pod-template-hash": "5d9c"})
    assert resolve_owner(whole, _none).kind is OwnerKind.POD


def test_replicaset_without_deployment_is_a_pod_owner() -> None:
    pod = _pod("rs-abc", refs=[_ref("ReplicaSet", "rs")], labels={"pod-template-hash": "abc"})
    assert resolve_owner(pod, lambda ns, rs: "") == OwnerKey("default", OwnerKind.POD, "rs-abc")
    # a lookup that answers garbage is not trusted
    assert resolve_owner(pod, lambda ns, rs: "Not_A_Name").kind is OwnerKind.POD


@pytest.mark.parametrize(
    "refs",
    [
        None,
        [],
        [_ref("Job", "j", "batch/v1")],
        [_ref("StatefulSet", "web", controller=False)],
        [_ref("StatefulSet", "web", controller=None)],
        [_ref("StatefulSet", "web", controller="true")],
        [_ref("StatefulSet", "web", "apps.kruise.io/v1beta1")],
        [_ref("ReplicaSet", "web-1", "v1")],
        [_ref("StatefulSet", "Web")],
        [{"kind": "StatefulSet", "name": "web", "controller": True}],
        [{"apiVersion": 1, "kind": "StatefulSet", "name": "web", "controller": True}],
        [_ref("Node", "n1", "v1")],
    ],
)
def test_odd_or_absent_controllers_give_a_pod_owner(refs: list[Any] | None) -> None:
    assert resolve_owner(_pod("web-0", refs=refs), _none) == OwnerKey("default", OwnerKind.POD, "web-0")


def test_only_the_controller_reference_counts() -> None:
    refs = [_ref("StatefulSet", "web", controller=False), _ref("StatefulSet", "db")]
    assert resolve_owner(_pod("db-1", refs=refs), _none) == OwnerKey.of("default", "StatefulSet", "db", 1)


@pytest.mark.parametrize(
    ("pod", "field"),
    [
        ([], "pod"),
        ({"metadata": None}, "metadata"),
        ({"metadata": {"name": "a"}}, "metadata.namespace"),
        ({"metadata": {"namespace": "d"}}, "metadata.name"),
        ({"metadata": {"name": "A", "namespace": "d"}}, "metadata.name"),
        ({"metadata": {"name": "a", "namespace": "d", "ownerReferences": {}}}, "metadata.ownerReferences"),
        (
            {"metadata": {"name": "a", "namespace": "d", "ownerReferences": [1]}},
            "metadata.ownerReferences[0]",
        ),
        ({"metadata": {"name": "a", "namespace": "d", "labels": []}}, "metadata.labels"),
    ],
)
def test_broken_pods_are_refused_naming_the_field(pod: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        resolve_owner(pod, _none)
    assert info.value.field == field


def test_policy_comes_with_the_owner() -> None:
    pod = _pod("web-0", refs=[_ref("StatefulSet", "web")], annotations={"fip.io/release-policy": "immutable"})
    assert resolve(pod, _none) == PodOwner(
        OwnerKey.of("default", "StatefulSet", "web", 0), ReleasePolicy.IMMUTABLE
    )
    galaxy = _pod(annotations={"k8s.v1.cni.galaxy.io/release-policy": "never"})
    assert resolve(galaxy, _none).policy is ReleasePolicy.NEVER
    assert resolve(_pod(), _none).policy is ReleasePolicy.POD
    with pytest.raises(InvalidInput, match="release-policy"):
        resolve(_pod(annotations={"fip.io/release-policy": "sometimes"}), _none)
    with pytest.raises(InvalidInput, match=r"metadata\.annotations"):
        resolve({"metadata": {"name": "a", "namespace": "d", "annotations": "x"}}, _none)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
_kinds = st.sampled_from(["StatefulSet", "TApp", "ReplicaSet", "Deployment", "Job", "", "Pod"])
_apis = st.sampled_from(["apps/v1", "apps.tkestack.io/v1", "v1", "batch/v1", "apps", ""])


@st.composite
def _fuzz_pods(draw: st.DrawFn) -> Any:
    refs = draw(
        st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "kind": _kinds | _json,
                    "apiVersion": _apis | _json,
                    "name": subdomains | _json,
                    "controller": st.booleans() | _json,
                },
            ),
            max_size=3,
        )
        | _json
    )
    meta: dict[str, Any] = {
        "name": draw(st.one_of(subdomains, dns_labels.map(lambda s: s + "-" + "7"), _json)),
        "namespace": draw(st.one_of(dns_labels, _json)),
        "ownerReferences": refs,
        "labels": draw(
            st.dictionaries(
                st.sampled_from(
                    ["apps.kubernetes.io/pod-index", "tapp_instance_key", "pod-template-hash", "x"]
                ),
                st.text(max_size=5) | st.integers().map(str),
                max_size=3,
            )
            | _json
        ),
    }
    return {"metadata": draw(st.just(meta) | _json)}


@settings(max_examples=600, deadline=None)
@given(_fuzz_pods(), st.sampled_from([None, "", "dep", "Bad Name"]))
def test_fuzz_never_crashes_and_keys_are_valid(pod: Any, deployment: str | None) -> None:
    try:
        key = resolve_owner(pod, lambda ns, rs: deployment)
    except InvalidInput:
        return
    # whatever came in, the key is valid and round-trips through its one text form
    assert OwnerKey.decode(key.encode()) == key
    assert key.namespace == pod["metadata"]["namespace"]
    if key.kind is OwnerKind.POD:
        assert key.name == pod["metadata"]["name"]
