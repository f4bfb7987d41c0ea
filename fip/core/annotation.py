"""The pod allocation annotation `fip.io/allocation`: the one text form of "this pod's IP".

The extender's bind writes it on the pod; fipd reads it before plugging the pod in; the
controllers rebuild Redis from it. Value: compact JSON with exactly these keys

    {"ip":"10.0.1.17","prefix":24,"gateway":"10.0.1.1","vlan":0,"subnet":"dc1-a",
     "owner":"default/StatefulSet/web/0"}

Anyone who may patch pods can write this annotation (Calico CVE-2022-28224), so `parse` is strict:
unknown or missing keys, non-canonical addresses (leading zeros, IPv4-mapped IPv6, zones), a
gateway outside the prefix or equal to the IP, and out-of-range VLANs are all refused with an
`InvalidInput` that names the field. fipd additionally checks the allocation against the node's
subnets; this module only checks that the value is self-consistent.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from fip.core.addresses import parse_ip
from fip.core.errors import InvalidInput
from fip.core.names import check_subdomain
from fip.core.owner import OwnerKey
from fip.core.subnet import IPAddress, IPNetwork

KEY = "fip.io/allocation"
_FIELDS = ("ip", "prefix", "gateway", "vlan", "subnet", "owner")
_MAX_LEN = 1024


@dataclass(frozen=True, slots=True)
class Allocation:
    """A pod's floating IP as written on the pod. `network` is the subnet the IP lives in."""

    ip: IPAddress
    prefix: int
    gateway: IPAddress
    vlan: int
    subnet: str
    owner: OwnerKey

    @property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(f"{self.ip}/{self.prefix}", strict=False)

    def encode(self) -> str:
        """Compact JSON in the fixed key order; `parse(a.encode()) == a`."""
        return json.dumps(
            {
                "ip": str(self.ip),
                "prefix": self.prefix,
                "gateway": str(self.gateway),
                "vlan": self.vlan,
                "subnet": self.subnet,
                "owner": self.owner.encode(),
            },
            separators=(",", ":"),
        )


def parse(text: object) -> Allocation:
    """Parse and validate an annotation value; raises InvalidInput naming the bad field."""
    field = f"annotation {KEY}"
    if not isinstance(text, str):
        raise InvalidInput(field, text, "is not a string", "write the allocation as compact JSON text")
    if len(text) > _MAX_LEN:
        raise InvalidInput(field, text, f"is longer than {_MAX_LEN} characters", "write only the six keys")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput(field, text, "is not valid JSON", "let the scheduler extender write it") from None
    if not isinstance(data, dict):
        raise InvalidInput(field, text, "is not a JSON object", "write {" + ",".join(_FIELDS) + "}")
    missing = [k for k in _FIELDS if k not in data]
    extra = sorted(k for k in data if k not in _FIELDS)
    if missing:
        raise InvalidInput(field, text, "lacks " + ", ".join(missing), "give all of " + ", ".join(_FIELDS))
    if extra:
        raise InvalidInput(field, text, "has unknown key(s) " + ", ".join(extra), "remove them")
    return _checked(field, data)


def _checked(field: str, data: dict[str, object]) -> Allocation:
    ip = parse_ip(f"{field}.ip", data["ip"])
    gateway = parse_ip(f"{field}.gateway", data["gateway"])
    prefix = _int_in(f"{field}.prefix", data["prefix"], 1, ip.max_prefixlen, "a prefix length")
    vlan = _int_in(f"{field}.vlan", data["vlan"], 0, 4094, "a VLAN id (0 = untagged)")
    if gateway.version != ip.version:
        raise InvalidInput(f"{field}.gateway", str(gateway), f"is not IPv{ip.version} like ip {ip}")
    net = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    if gateway not in net:
        raise InvalidInput(f"{field}.gateway", str(gateway), f"is outside {net}", "give the subnet's gateway")
    if gateway == ip:
        raise InvalidInput(f"{field}.gateway", str(gateway), "equals the pod IP")
    if ip == net.network_address and prefix < ip.max_prefixlen - 1:
        raise InvalidInput(f"{field}.ip", str(ip), f"is the network address of {net}")
    if ip.version == 4 and prefix < 31 and ip == net.broadcast_address:
        raise InvalidInput(f"{field}.ip", str(ip), f"is the broadcast address of {net}")
    for name, addr in (("ip", ip), ("gateway", gateway)):
        if addr.is_unspecified or addr.is_multicast or addr.is_loopback or addr.is_link_local:
            raise InvalidInput(
                f"{field}.{name}", str(addr), "is not a unicast subnet address", "give a subnet address"
            )
    subnet = check_subdomain(f"{field}.subnet", data["subnet"])
    try:
        owner = OwnerKey.decode(data["owner"])
    except InvalidInput as err:
        raise InvalidInput(f"{field}.{err.field}", err.value, err.problem, err.fix) from None
    return Allocation(ip, prefix, gateway, vlan, subnet, owner)


def _int_in(field: str, value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(field, value, f"is not {what}", f"give an integer {low}..{high}")
    return value
