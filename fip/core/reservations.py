"""The workload annotation `fip.io/reserved-ips`: the IPs kept for a workload's absent instances.

Redis holds reservations (an `immutable` StatefulSet instance whose pod is gone keeps its IP);
pods cannot carry them, since there is no pod. So the controllers also write them on the owner
(the Deployment, StatefulSet or TApp) whenever they change, and a rebuild after Redis lost its
state restores them from there. Value: compact JSON, a sorted list of
``[instance, subnet, ip]`` (instance "" for a Deployment):

    [["0","dc1-a","10.0.1.17"],["3","dc1-a","10.0.1.20"]]

Anyone who may patch workloads can write this, so `parse` is strict (canonical addresses,
names, ordinals, at most `MAX` entries); a rebuild only restores entries whose instance is still
wanted and whose IP nobody else holds, so a forged entry can at worst keep a free IP aside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fip.core.addresses import parse_ip
from fip.core.errors import InvalidInput
from fip.core.names import check_subdomain
from fip.core.subnet import IPAddress

KEY = "fip.io/reserved-ips"
MAX = 10_000


@dataclass(frozen=True, slots=True, order=True)
class Reservation:
    instance: str  # "" for a Deployment's IP
    subnet: str
    ip: IPAddress

    def sort_key(self) -> tuple[str, str, int, int]:
        return (self.instance, self.subnet, self.ip.version, int(self.ip))


def encode(items: list[Reservation]) -> str:
    rows = [[r.instance, r.subnet, str(r.ip)] for r in sorted(items, key=Reservation.sort_key)]
    return json.dumps(rows, separators=(",", ":"))


def parse(text: object) -> list[Reservation]:
    field = f"annotation {KEY}"
    if not isinstance(text, str):
        raise InvalidInput(field, text, "is not a string", "let fip-controllers write it")
    try:
        rows = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput(field, text, "is not valid JSON", "let fip-controllers write it") from None
    if not isinstance(rows, list) or len(rows) > MAX:
        raise InvalidInput(
            field, text, f"is not a list of at most {MAX} entries", "let fip-controllers write it"
        )
    out = []
    for i, row in enumerate(rows):
        where = f"{field}[{i}]"
        if not (isinstance(row, list) and len(row) == 3 and all(isinstance(x, str) for x in row)):
            raise InvalidInput(where, row, "is not [instance, subnet, ip]", "let fip-controllers write it")
        inst, subnet, ip = row
        if inst and not (inst.isdigit() and inst.isascii() and (inst == "0" or not inst.startswith("0"))):
            raise InvalidInput(f"{where}.instance", inst, "is not an instance", 'give an ordinal or ""')
        out.append(Reservation(inst, check_subdomain(f"{where}.subnet", subnet), parse_ip(f"{where}.ip", ip)))
    return out
