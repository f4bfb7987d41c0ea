"""Kubernetes name rules (DNS-1123), checked the way the API server checks them."""

from __future__ import annotations

import re

from fip.core.errors import InvalidInput

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check_label(field: str, value: object) -> str:
    """A DNS-1123 label (namespaces, Service names): at most 63 of [a-z0-9-], alnum at both ends."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, value, "is not a name", "give a non-empty DNS-1123 label")
    if len(value) > 63 or not _LABEL.fullmatch(value):
        raise InvalidInput(
            field,
            value,
            "is not a valid DNS-1123 label",
            "use at most 63 lower-case letters, digits and '-', starting and ending alphanumeric",
        )
    return value


def check_subdomain(field: str, value: object) -> str:
    """A DNS-1123 subdomain (most object names): at most 253 of [a-z0-9-.]."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, value, "is not a name", "give a non-empty DNS-1123 subdomain")
    if len(value) > 253 or not _SUBDOMAIN.fullmatch(value):
        raise InvalidInput(
            field,
            value,
            "is not a valid DNS-1123 subdomain",
            "use lower-case letters, digits, '-' and '.', each part starting and ending alphanumeric",
        )
    return value
