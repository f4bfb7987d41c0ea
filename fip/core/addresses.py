"""Strict parsers for IP addresses, networks and ranges written by people.

The rules follow Kubernetes KEP-4858 (IP/CIDR validation) for new fields:

- IPv4 octets with leading zeros (`010.0.1.1`) are rejected: libc reads them as octal, Python
  as decimal, and the difference has been an ACL bypass (CVE-2021-29921).
- IPv4-mapped IPv6 (`::ffff:10.0.1.1`) is rejected: it names an IPv4 address in IPv6 clothes.
- Zone ids (`fe80::1%eth0`) are rejected: they are local to one host.
- A network with host bits set (`10.0.1.5/24`) is rejected where a network is expected, with the
  network form as the fix; so are netmask prefixes (`/255.255.255.0`) and padded ones (`/024`).
- IPv6 must be written in canonical RFC 5952 form (lower case, longest zero run compressed):
  every address then has exactly one spelling, so stored keys, annotations and `kubectl` output
  compare as strings. Callers reading addresses that fip did not write (a node's InternalIP,
  an operator's command line) pass `canonical=False` to accept any spelling and normalise it.
- Whitespace, empty strings and non-strings are rejected, never trimmed or coerced.

Every rejection is an `InvalidInput` naming the field, the value and the fix.
"""

from __future__ import annotations

import ipaddress

from fip.core.errors import InvalidInput
from fip.core.subnet import IPAddress, IPNetwork, IPRange

_HEX = frozenset("0123456789abcdefABCDEF:.")
_DIGITS = frozenset("0123456789")
_EXAMPLE_IP = "e.g. 10.0.1.17 or 2001:db8::17"
_EXAMPLE_NET = "e.g. 10.0.1.0/24 or 2001:db8:1::/64"


class _Bad(Exception):
    """A rejection before the field and whole value are known."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def parse_ip(field: str, value: object, *, canonical: bool = True) -> IPAddress:
    """One IPv4 or IPv6 address. With `canonical=False` a valid but non-canonical IPv6
    spelling is accepted and normalised; every other rule still applies."""
    try:
        return _address(_text(value, "an IP address", _EXAMPLE_IP), canonical)
    except _Bad as bad:
        raise InvalidInput(field, value, bad.problem, bad.fix) from None


def parse_network(field: str, value: object, *, canonical: bool = True) -> IPNetwork:
    """A network in CIDR form `address/prefix`, without host bits."""
    try:
        return _network(_text(value, "a network", _EXAMPLE_NET), canonical)
    except _Bad as bad:
        raise InvalidInput(field, value, bad.problem, bad.fix) from None


def parse_range(field: str, value: object, *, canonical: bool = True) -> IPRange:
    """`start-end` (inclusive, same family, start <= end) or a single address."""
    try:
        text = _text(value, "an address range", "e.g. 10.0.1.10-10.0.1.200 or 10.0.1.7")
        if "~" in text:
            dashed = text.replace("~", "-")
            raise _Bad("uses '~' (Galaxy's range form)", f"write the range as start-end, e.g. {dashed}")
        parts = text.split("-")
        if len(parts) > 2:
            raise _Bad("is not an address range", "write one start-end pair, e.g. 10.0.1.10-10.0.1.200")
        start = _address(parts[0], canonical)
        end = _address(parts[-1], canonical)
        if start.version != end.version:
            raise _Bad("mixes IPv4 and IPv6", "give both ends in the same family")
        if int(start) > int(end):
            raise _Bad("ends before it starts", f"write it as {end}-{start}")
        return IPRange(start, end)
    except _Bad as bad:
        raise InvalidInput(field, value, bad.problem, bad.fix) from None


def _text(value: object, what: str, example: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"is not {what}", f"give {what} as a string, {example}")
    if not value:
        raise _Bad("is empty", f"give {what}, {example}")
    if any(c.isspace() for c in value):
        stripped = "".join(value.split())
        raise _Bad("contains whitespace", f'remove it: "{stripped}"' if stripped else f"give {what}")
    return value


def _address(text: str, canonical: bool) -> IPAddress:
    if not text:
        raise _Bad("has an empty address", f"give a full address, {_EXAMPLE_IP}")
    if "/" in text:
        alone = text.split("/", maxsplit=1)[0]
        raise _Bad("is a network, not an address", f"give the address alone, e.g. {alone}")
    if "%" in text:
        raise _Bad("carries a zone id", f"remove the zone: {text.split('%', maxsplit=1)[0]}")
    if ":" in text:
        return _ipv6(text, canonical)
    return _ipv4(text)


def _ipv4(text: str) -> ipaddress.IPv4Address:
    octets = text.split(".")
    if len(octets) != 4 or not all(o and set(o) <= _DIGITS and len(o) <= 3 for o in octets):
        raise _Bad("is not an IP address", f"write four decimal octets or an IPv6 address, {_EXAMPLE_IP}")
    if any(len(o) > 1 and o[0] == "0" for o in octets):
        plain = ".".join(str(int(o)) for o in octets)
        raise _Bad(
            "has an octet with a leading zero (read as octal by some parsers)",
            f"write it without leading zeros: {plain}",
        )
    if any(int(o) > 255 for o in octets):
        raise _Bad("has an octet above 255", f"give a valid IPv4 address, {_EXAMPLE_IP}")
    return ipaddress.IPv4Address(text)


def _ipv6(text: str, canonical: bool) -> ipaddress.IPv6Address:
    if not set(text) <= _HEX:
        raise _Bad("is not an IP address", f"give a valid address, {_EXAMPLE_IP}")
    try:
        addr = ipaddress.IPv6Address(text)
    except ValueError:
        raise _Bad("is not an IPv6 address", f"give a valid address, {_EXAMPLE_IP}") from None
    if addr.ipv4_mapped is not None:
        raise _Bad("is an IPv4-mapped IPv6 address", f"write the IPv4 address itself: {addr.ipv4_mapped}")
    if canonical and text != str(addr):
        raise _Bad("is not in canonical IPv6 form (RFC 5952)", f"write it as {addr}")
    return addr


def _network(text: str, canonical: bool) -> IPNetwork:
    if "/" not in text:
        host = "/32" if ":" not in text else "/128"
        raise _Bad("has no prefix length", f"write it as address/prefix, e.g. {text}{host} for one address")
    addr_text, _, prefix_text = text.partition("/")
    addr = _address(addr_text, canonical)
    bits = addr.max_prefixlen
    if not prefix_text:
        raise _Bad("has an empty prefix length", f"write the prefix length after '/', {_EXAMPLE_NET}")
    if not set(prefix_text) <= _DIGITS:
        if "." in prefix_text or ":" in prefix_text:
            try:
                as_len = ipaddress.ip_network(f"0.0.0.0/{prefix_text}").prefixlen
                fix = f"write the prefix length instead: {addr_text}/{as_len}"
            except ValueError:
                fix = f"write a prefix length 0..{bits}"
            raise _Bad("uses a netmask, not a prefix length", fix)
        raise _Bad("has an invalid prefix length", f"write a prefix length 0..{bits}, {_EXAMPLE_NET}")
    if len(prefix_text) > 1 and prefix_text[0] == "0":
        raise _Bad("has a prefix length with a leading zero", f"write {addr_text}/{int(prefix_text)}")
    prefix = int(prefix_text)
    if prefix > bits:
        raise _Bad(f"has a prefix length above {bits}", f"write a prefix length 0..{bits}")
    net = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
    if net.network_address != addr:
        raise _Bad(
            "has host bits set (an address inside a network, not the network)",
            f"did you mean {net}?",
        )
    return net
