"""Release policies: our annotation strictly, Galaxy's as an alias."""

from __future__ import annotations

import pytest

from fip.core.errors import InvalidInput
from fip.core.policy import (
    ANNOTATION,
    GALAXY_ANNOTATION,
    ReleasePolicy,
    parse_policy,
    policy_from_annotations,
)


@pytest.mark.parametrize("value", ["pod", "immutable", "never"])
def test_own_values(value: str) -> None:
    assert parse_policy(value) == ReleasePolicy(value)
    assert policy_from_annotations({ANNOTATION: value}) == ReleasePolicy(value)


@pytest.mark.parametrize("value", ["", "Immutable", " never", "release", None, 1, ["pod"]])
def test_own_annotation_is_strict(value: object) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_policy(value)
    assert err.value.field == ANNOTATION
    assert "pod, immutable or never" in str(err.value)


@pytest.mark.parametrize(
    ("galaxy", "expected"),
    [("immutable", "immutable"), ("never", "never"), ("", "pod"), ("anything", "pod"), ("0", "pod")],
)
def test_galaxy_alias_follows_galaxy_semantics(galaxy: str, expected: str) -> None:
    assert policy_from_annotations({GALAXY_ANNOTATION: galaxy}) == ReleasePolicy(expected)


def test_ours_wins_over_galaxy_and_default_is_pod() -> None:
    both = {ANNOTATION: "pod", GALAXY_ANNOTATION: "never"}
    assert policy_from_annotations(both) is ReleasePolicy.POD
    assert policy_from_annotations(None) is ReleasePolicy.POD
    assert policy_from_annotations({}) is ReleasePolicy.POD
    with pytest.raises(InvalidInput):
        policy_from_annotations({ANNOTATION: "sometimes", GALAXY_ANNOTATION: "never"})
