"""The pod side, the same in every mode: address, routes, announcement, and CHECK.

By the time these run, the pod's interface exists in the pod namespace under its final name
(`req.ifname`) with its final MAC, still down. `configure` talks to the pod namespace through a
`bridge.rtnl` socket the caller opened there (a pyroute2 socket in a namespace costs ~5 ms);
CHECK (`differences`) is not on the hot path and uses `bridge.netlink`. Nothing here needs an
undo action: every address and route made here lives on that interface and disappears with it,
and each mode's undo removes it.

Routes: `default via gateway` and, when the subnet has a service CIDR, `<service CIDR> via
gateway` (so ClusterIP traffic leaves by the pod's interface, where bpf/ rewrites it for macvlan /
SR-IOV pods, even if the pod later gets a more specific default).
"""

from __future__ import annotations

from bridge.driver import PlugRequest
from bridge.errors import LinkNotFound
from bridge.garp import announce
from bridge.linkinfo import AF_INET, AF_INET6
from bridge.netlink import Netlink, Route
from bridge.nsenter import write_sysctl
from bridge.rtnl import Rtnl
from bridge.undo import UndoStack


def _family(req: PlugRequest) -> int:
    return AF_INET if req.network.ip.version == 4 else AF_INET6


def wanted_routes(req: PlugRequest) -> list[Route]:
    net, fam = req.network, _family(req)
    routes = [Route(dst=None, oif=req.ifname, gateway=net.gateway, family=fam)]
    if net.service_cidr is not None:
        routes.append(Route(dst=net.service_cidr, oif=req.ifname, gateway=net.gateway, family=fam))
    return routes


def configure(req: PlugRequest, mac: str, undo: UndoStack, pod_nl: Rtnl) -> None:
    """Bring `req.ifname` up, give it its address and routes, then announce the IP.

    `pod_nl` is a socket in the pod namespace. The caller has marked its own step for the link
    (`pod-link`); bringing the link up belongs to it, the rest are steps address, routes, announce.
    """
    net = req.network
    link = pod_nl.link(req.ifname)
    if link is None:
        raise LinkNotFound("configure", pod_nl.where(req.ifname), "no such link", "was it removed meanwhile?")
    if net.ip.version == 6:
        # the floating IP must answer at once: no DAD delay, no stray autoconfigured addresses
        write_sysctl(req.netns_path, f"net.ipv6.conf.{req.ifname}.accept_dad", "0")
        write_sysctl(req.netns_path, f"net.ipv6.conf.{req.ifname}.accept_ra", "0")
    pod_nl.set_up(link.index, req.ifname, mtu=net.mtu)
    undo.step("address")
    pod_nl.add_address(link.index, req.ifname, net.ip, net.prefix)
    undo.step("routes")
    for route in wanted_routes(req):
        pod_nl.add_route(link.index, req.ifname, route.dst, net.gateway)
    undo.step("announce")
    announce(req.netns_path, req.ifname, net.ip, mac, count=req.garp_count)


def differences(req: PlugRequest, mac: str) -> list[str]:
    """What CHECK finds different in the pod (empty = as plugged)."""
    net, out = req.network, []
    try:
        pod_nl = Netlink(req.netns_path)
    except LinkNotFound:
        return [f"pod network namespace {req.netns_path} missing"]
    with pod_nl as pod:
        link = pod.link(req.ifname)
        if link is None:
            return [f"interface {req.ifname} missing in {req.netns_path}"]
        if link.mac.lower() != mac:
            out.append(f"{req.ifname} MAC is {link.mac}, expected {mac}")
        if not link.up:
            out.append(f"{req.ifname} is down")
        if not any(a.ip == net.ip and a.prefix == net.prefix for a in pod.addresses(req.ifname)):
            out.append(f"address {net.ip}/{net.prefix} missing on {req.ifname}")
        have = {(r.dst, r.gateway, r.oif) for r in pod.routes(_family(req))}
        for route in wanted_routes(req):
            if (route.dst, route.gateway, route.oif) not in have:
                out.append(f"route {route.dst or 'default'} via {route.gateway} dev {route.oif} missing")
    return out
