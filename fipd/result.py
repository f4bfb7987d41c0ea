"""The CNI ADD result for a plugged floating IP, in the format of the request's cniVersion.

1.0.0 drops the per-IP "version" key that 0.3.x / 0.4.0 require; otherwise the formats fip
emits are the same. Only the pod's interface is listed (index 0): the host side of a veth is an
implementation detail of the bridge mode and absent in macvlan / SR-IOV.
"""

from __future__ import annotations

from fip.core.annotation import Allocation
from fip.core.subnet import IPNetwork
from fipd.cnispec import Request


def add_result(
    req: Request, alloc: Allocation, mac: str, service_cidr: IPNetwork | None
) -> dict[str, object]:
    ip: dict[str, object] = {
        "address": f"{alloc.ip}/{alloc.prefix}",
        "gateway": str(alloc.gateway),
        "interface": 0,
    }
    if req.cni_version != "1.0.0":
        ip["version"] = str(alloc.ip.version)
    default = "0.0.0.0/0" if alloc.ip.version == 4 else "::/0"
    routes: list[dict[str, str]] = [{"dst": default, "gw": str(alloc.gateway)}]
    if service_cidr is not None and service_cidr.version == alloc.ip.version:
        routes.append({"dst": str(service_cidr), "gw": str(alloc.gateway)})
    return {
        "cniVersion": req.cni_version,
        "interfaces": [{"name": req.ifname, "mac": mac, "sandbox": req.netns}],
        "ips": [ip],
        "routes": routes,
        "dns": {},
    }
