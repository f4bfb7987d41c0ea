"""Service and EndpointSlice field rules as kube-apiserver's `ValidateService` and
`ValidateEndpointSlice` enforce them (422 Invalid with causes), beyond what `constraints` and
`specs` already check (service type, required/duplicate ports, port range, addressType).

Why here: fipd turns these objects into BPF map entries, so what the lab lets through must be
what a real cluster would: protocols TCP/UDP/SCTP only, valid and consistent ClusterIPs, port names
that are RFC 1123 labels and unique, targetPorts in range or valid IANA names, session affinity
None/ClientIP with 0 < timeoutSeconds <= 86400; slices with at most 1000 endpoints, 1-100
addresses each of the slice's address type, and ports with a valid name, protocol and number.
"""

# ruff: noqa: E501  (messages are kube-apiserver's, verbatim)

from __future__ import annotations

import ipaddress
import re
from typing import Any

from lab.apiserver.names import LABEL, LABEL_MSG, SUBDOMAIN
from lab.apiserver.resources import ResourceType

Obj = dict[str, Any]
Cause = tuple[str, str, str]
PROTOCOLS = ("SCTP", "TCP", "UDP")
PROTOCOLS_MSG = 'supported values: "SCTP", "TCP", "UDP"'
MAX_AFFINITY = 86400
MAX_ENDPOINTS, MAX_ADDRESSES, MAX_PORTS = 1000, 100, 20000
IANA_NAME = re.compile(r"^[-a-z0-9]+$")


def causes(rt: ResourceType, obj: Obj) -> list[Cause]:
    if rt.group == "" and rt.kind == "Service":
        return _service(_dict(obj.get("spec")))
    if rt.group == "discovery.k8s.io" and rt.kind == "EndpointSlice":
        return _slice(obj)
    return []


def _list(value: Any) -> list[Any]:
    """The shape checks answer for a non-list; the rules here look only at real lists."""
    return value if isinstance(value, list) else []


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _port_range(field: str, value: Any) -> list[Cause]:
    if isinstance(value, int) and 1 <= value <= 65535:
        return []
    return [(field, "FieldValueInvalid", f"Invalid value: {value}: must be between 1 and 65535, inclusive")]


def _protocol(field: str, value: Any) -> list[Cause]:
    if value in PROTOCOLS:
        return []
    return [(field, "FieldValueNotSupported", f'Unsupported value: "{value}": {PROTOCOLS_MSG}')]


def _name(field: str, name: Any, seen: set[str]) -> list[Cause]:
    if not name:
        return []
    if not isinstance(name, str) or not LABEL.match(name) or len(name) > 63:
        return [(field, "FieldValueInvalid", f'Invalid value: "{name}": {LABEL_MSG}')]
    if name in seen:
        return [(field, "FieldValueDuplicate", f'Duplicate value: "{name}"')]
    seen.add(name)
    return []


def _target_port(field: str, value: Any) -> list[Cause]:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return [] if value is None or value == 0 else _port_range(field, value)
    if not isinstance(value, str):
        return [(field, "FieldValueInvalid", f"Invalid value: {value}: must be an integer or a port name")]
    problems = []
    if len(value) > 15:
        problems.append("must be no more than 15 characters")
    if not IANA_NAME.match(value):
        problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        problems.append("must contain at least one letter (a-z)")
    if "--" in value:
        problems.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        problems.append("must not begin or end with a hyphen")
    return [(field, "FieldValueInvalid", f'Invalid value: "{value}": {p}') for p in problems]


def _service(spec: Obj) -> list[Cause]:
    out: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(_list(spec.get("ports"))):
        if not isinstance(port, dict):
            continue
        out += _name(f"spec.ports[{i}].name", port.get("name"), names)
        out += _protocol(f"spec.ports[{i}].protocol", port.get("protocol", "TCP"))
        out += _target_port(f"spec.ports[{i}].targetPort", port.get("targetPort"))
    out += _cluster_ips(spec)
    affinity = spec.get("sessionAffinity", "None")
    if affinity not in ("ClientIP", "None"):
        out.append(("spec.sessionAffinity", "FieldValueNotSupported",
                    f'Unsupported value: "{affinity}": supported values: "ClientIP", "None"'))  # fmt: skip
    config = spec.get("sessionAffinityConfig")
    if affinity == "ClientIP":
        timeout = _dict(_dict(config).get("clientIP")).get("timeoutSeconds", 10800)
        if not isinstance(timeout, int) or not 0 < timeout <= MAX_AFFINITY:
            out.append(("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "FieldValueInvalid",
                        f"Invalid value: {timeout}: must be greater than 0 and less than {MAX_AFFINITY}"))  # fmt: skip
    elif affinity == "None" and config:
        out.append(("spec.sessionAffinityConfig", "FieldValueInvalid",
                    f"Invalid value: {config}: must not be set when session affinity is None"))  # fmt: skip
    return out


def _cluster_ips(spec: Obj) -> list[Cause]:
    out: list[Cause] = []
    single, many = spec.get("clusterIP"), _list(spec.get("clusterIPs"))
    if single and many and many[0] != single:
        shown = ", ".join(f'"{ip}"' for ip in many)
        out.append(("spec.clusterIPs", "FieldValueInvalid",
                    f"Invalid value: []string{{{shown}}}: first value must match `clusterIP`"))  # fmt: skip
    ips = many or ([single] if single else [])
    if any(not isinstance(ip, str) for ip in ips):
        return out
    if "None" in ips:
        if len(ips) > 1:
            out.append(("spec.clusterIPs[1]", "FieldValueInvalid",
                        f'Invalid value: "{ips[1]}": must be empty when the first value is \'None\''))  # fmt: skip
        return out
    families = []
    for i, ip in enumerate(ips):
        try:
            families.append(ipaddress.ip_address(ip).version)
        except ValueError:
            out.append((f"spec.clusterIPs[{i}]", "FieldValueInvalid",
                        f'Invalid value: "{ip}": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'))  # fmt: skip
    if len(ips) > 2:
        out.append(("spec.clusterIPs", "FieldValueInvalid",
                    "Invalid value: []string{...}: may only hold up to 2 values"))  # fmt: skip
    elif len(families) == 2 and families[0] == families[1]:
        out.append(("spec.clusterIPs[1]", "FieldValueInvalid",
                    f'Invalid value: "{ips[1]}": may not be the same IP family as the first value'))  # fmt: skip
    return out


def _slice(obj: Obj) -> list[Cause]:
    out: list[Cause] = []
    kind = obj.get("addressType")
    endpoints = _list(obj.get("endpoints"))
    if len(endpoints) > MAX_ENDPOINTS:
        out.append(("endpoints", "FieldValueTooMany",
                    f"Too many: {len(endpoints)}: must have at most {MAX_ENDPOINTS} items"))  # fmt: skip
    for i, ep in enumerate(endpoints):
        if not isinstance(ep, dict):
            continue
        addresses = _list(ep.get("addresses"))
        field = f"endpoints[{i}].addresses"
        if not addresses:
            out.append((field, "FieldValueRequired", "Required value: must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            out.append((field, "FieldValueTooMany",
                        f"Too many: {len(addresses)}: must have at most {MAX_ADDRESSES} items"))  # fmt: skip
        for j, address in enumerate(addresses):
            out += _address(f"{field}[{j}]", kind, address)
        node = ep.get("nodeName")
        if node and (not isinstance(node, str) or not SUBDOMAIN.match(node)):
            out.append((f"endpoints[{i}].nodeName", "FieldValueInvalid",
                        f'Invalid value: "{node}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character'))  # fmt: skip
    ports = _list(obj.get("ports"))
    if len(ports) > MAX_PORTS:
        out.append(
            ("ports", "FieldValueTooMany", f"Too many: {len(ports)}: must have at most {MAX_PORTS} items")
        )
    names: set[str] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        out += _name(f"ports[{i}].name", port.get("name"), names)
        out += _protocol(f"ports[{i}].protocol", port.get("protocol", "TCP"))
        if port.get("port") is not None:
            out += _port_range(f"ports[{i}].port", port.get("port"))
    return out


def _address(field: str, kind: Any, address: Any) -> list[Cause]:
    if kind in ("IPv4", "IPv6"):
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            ip = None
        if ip is None or f"IPv{ip.version}" != kind:
            return [
                (field, "FieldValueInvalid", f'Invalid value: "{address}": must be a valid {kind} address')
            ]
        return []
    if kind == "FQDN" and (not isinstance(address, str) or not SUBDOMAIN.match(address)):
        return [(field, "FieldValueInvalid", f'Invalid value: "{address}": must be a valid FQDN')]
    return []
