"""Kubernetes name and label rules (DNS-1123, label keys and values), checked the way the API
server checks them.

Each rule is a `NameSyntax` row (longest length, pattern, and the words of its refusal), so the
label and subdomain checks cannot drift apart in what they accept or how they explain a refusal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fip.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class NameSyntax:
    """One name syntax: `noun` names it in messages, `fix` says what a valid name looks like."""

    noun: str
    limit: int
    pattern: re.Pattern[str]
    fix: str

    def fits(self, value: str) -> bool:
        return len(value) <= self.limit and self.pattern.fullmatch(value) is not None

    def check(self, field: str, value: object) -> str:
        """`value` when it is a non-empty name of this syntax, else an `InvalidInput` for `field`."""
        if not isinstance(value, str) or not value:
            raise InvalidInput(field, value, "is not a name", f"give a non-empty {self.noun}")
        if not self.fits(value):
            raise InvalidInput(field, value, f"is not a valid {self.noun}", self.fix)
        return value


LABEL = NameSyntax(
    "DNS-1123 label",
    63,
    re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
    "use at most 63 lower-case letters, digits and '-', starting and ending alphanumeric",
)
SUBDOMAIN = NameSyntax(
    "DNS-1123 subdomain",
    253,
    re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"),
    "use lower-case letters, digits, '-' and '.', each part starting and ending alphanumeric",
)
# The name part of a label key, and a label value: case-sensitive, '_' and '.' allowed.
QUALIFIED_NAME = NameSyntax(
    "label name",
    63,
    re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"),
    "use at most 63 letters, digits, '-', '_' and '.', starting and ending alphanumeric",
)


def check_label(field: str, value: object) -> str:
    """A DNS-1123 label (namespaces, Service names): at most 63 of [a-z0-9-], alnum at both ends."""
    return LABEL.check(field, value)


def check_subdomain(field: str, value: object) -> str:
    """A DNS-1123 subdomain (most object names): at most 253 of [a-z0-9-.]."""
    return SUBDOMAIN.check(field, value)


def check_label_key(field: str, value: object) -> str:
    """A Kubernetes label key: optional DNS-1123 subdomain prefix and '/', then a name of at
    most 63 of [A-Za-z0-9-_.] that starts and ends alphanumeric."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, value, "is not a label key", "give a key such as fip.io/l2 or zone")
    prefix, slash, name = value.rpartition("/")
    if slash and not SUBDOMAIN.fits(prefix):
        raise InvalidInput(
            field,
            value,
            "has an invalid label key prefix",
            "the part before '/' must be a DNS-1123 subdomain such as fip.io",
        )
    if not QUALIFIED_NAME.fits(name):
        raise InvalidInput(
            field,
            value,
            "is not a valid label key",
            "the name part is at most 63 of letters, digits, '-', '_' and '.', starting and ending "
            "alphanumeric",
        )
    return value


def check_label_value(field: str, value: object) -> str:
    """A Kubernetes label value: empty, or at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, "is not a label value", "give the value as a string")
    if value and not QUALIFIED_NAME.fits(value):
        raise InvalidInput(field, value, "is not a valid label value", QUALIFIED_NAME.fix)
    return value
