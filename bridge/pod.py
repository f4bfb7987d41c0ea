"""The pod side, the same in every mode: address, routes, announcement, and CHECK.

By the time these run, the pod's interface exists in the pod namespace under its final name
(`req.ifname`) with its final MAC. Nothing here needs an undo action: every address and route
made here lives on that interface and disappears with it, and each mode's undo removes it.

Routes: `default via gateway` and, when the subnet has a service CIDR, `<service CIDR> via
gateway` (so ClusterIP traffic leaves by the pod's interface, where bpf/ rewrites it for macvlan /
SR-IOV pods, even if the pod later gets a more specific default).
"""

from __future__ import annotations

import socket

from bridge.driver import PlugRequest
from bridge.errors import LinkNotFound
from bridge.garp import announce
from bridge.netlink import Netlink, Route
from bridge.nsenter import write_sysctl
from bridge.undo import UndoStack


def _family(req: PlugRequest) -> int:
    return socket.AF_INET if req.network.ip.version == 4 else socket.AF_INET6


def wanted_routes(req: PlugRequest) -> list[Route]:
    net, fam = req.network, _family(req)
    routes = [Route(dst=None, oif=req.ifname, gateway=net.gateway, family=fam)]
    if net.service_cidr is not None:
        routes.append(Route(dst=net.service_cidr, oif=req.ifname, gateway=net.gateway, family=fam))
    return routes


def configure(req: PlugRequest, mac: str, undo: UndoStack) -> None:
    """Bring `req.ifname` up with its address and routes, then announce the IP."""
    net = req.network
    with Netlink(req.netns_path) as pod:
        undo.step("address")
        if net.ip.version == 6:
            # the floating IP must answer at once: no DAD delay, no stray autoconfigured addresses
            write_sysctl(req.netns_path, f"net.ipv6.conf.{req.ifname}.accept_dad", "0")
            write_sysctl(req.netns_path, f"net.ipv6.conf.{req.ifname}.accept_ra", "0")
        pod.set_link(req.ifname, up=True, mtu=net.mtu)
        pod.add_address(req.ifname, net.ip, net.prefix)
        undo.step("routes")
        for route in wanted_routes(req):
            pod.add_route(route)
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
