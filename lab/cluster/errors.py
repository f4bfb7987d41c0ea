"""Errors of `fip-lab up / status / down`.

    FipError                       (fip.core.errors)
    ├── InvalidInput               a config field that does not parse (field, value, fix)
    └── LabError                   every other refusal of the lab cluster tooling
        ├── PreflightError         something the machine lacks: root, a binary, a kernel feature
        ├── ComponentFailed        a component did not come up (names it and shows its log tail)
        └── TeardownIncomplete     `down` could not remove something (lists each leftover)

A config error is always an `InvalidInput` located in the file (`lab config x.yaml: domains.a.
subnets[0].cidr: ...`), raised before anything is created; the CLI prints it and exits 2.
"""

from __future__ import annotations

from fip.core.errors import FipError


class LabError(FipError):
    """A lab refusal whose message says what to do."""


class PreflightError(LabError):
    """The machine cannot run the lab as configured (checked before anything starts)."""


class ComponentFailed(LabError):
    """A component exited or never became healthy while the system was coming up."""


class TeardownIncomplete(LabError):
    """`down` left something behind; the message lists every leftover and how to remove it."""
