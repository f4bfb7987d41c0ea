"""Release policies: when a floating IP leaves its owner.

    pod        (default) freed when the pod is gone
    immutable  kept for the owner while it exists and the instance is within replicas
    never      kept even after the owner is deleted; freed only by an operator

Set per workload with the pod-template annotation `fip.io/release-policy`. Galaxy's annotation
`k8s.v1.cni.galaxy.io/release-policy` is read as an alias so Galaxy users can migrate; Galaxy
treated any value other than `immutable`/`never` (including empty) as "release with the pod".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from fip.core.errors import InvalidInput

ANNOTATION = "fip.io/release-policy"
GALAXY_ANNOTATION = "k8s.v1.cni.galaxy.io/release-policy"


class ReleasePolicy(enum.StrEnum):
    POD = "pod"
    IMMUTABLE = "immutable"
    NEVER = "never"


def parse_policy(value: object, field: str = ANNOTATION) -> ReleasePolicy:
    """Parse our own annotation value strictly: one of pod / immutable / never."""
    if isinstance(value, str):
        try:
            return ReleasePolicy(value)
        except ValueError:
            pass
    raise InvalidInput(field, value, "is not a release policy", "use pod, immutable or never")


def policy_from_annotations(annotations: Mapping[str, object] | None) -> ReleasePolicy:
    """The policy a pod template asks for; ours wins over Galaxy's alias; default `pod`.
    `annotations` is the raw `metadata.annotations` value (None when absent)."""
    if annotations is None:
        return ReleasePolicy.POD
    if not isinstance(annotations, Mapping):
        raise InvalidInput(
            "metadata.annotations", annotations, "is not a mapping", "give annotations as key: value strings"
        )
    if ANNOTATION in annotations:
        return parse_policy(annotations[ANNOTATION])
    galaxy = annotations.get(GALAXY_ANNOTATION)
    if galaxy in ("immutable", "never"):
        return ReleasePolicy(str(galaxy))
    return ReleasePolicy.POD
