"""Kubernetes name and label rules (DNS-1123, label keys and values), checked the way the API
server checks them."""

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


_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def check_label_key(field: str, value: object) -> str:
    """A Kubernetes label key: optional DNS-1123 subdomain prefix and '/', then a name of at
    most 63 of [A-Za-z0-9-_.] that starts and ends alphanumeric."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, value, "is not a label key", "give a key such as fip.io/l2 or zone")
    prefix, slash, name = value.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)):
        raise InvalidInput(
            field,
            value,
            "has an invalid label key prefix",
            "the part before '/' must be a DNS-1123 subdomain such as fip.io",
        )
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
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
    if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
        raise InvalidInput(
            field,
            value,
            "is not a valid label value",
            "use at most 63 letters, digits, '-', '_' and '.', starting and ending alphanumeric",
        )
    return value
