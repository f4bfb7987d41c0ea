"""Step 3 of the demo: StatefulSet pod web-0 gets a floating IP, is plugged on its node, moves.

What is real: the Redis store, the lab API server, scheduler and StatefulSet controller, a fipd
per node, the installed fip-cni run with containerd's environment, the bridge / macvlan
datapath, the gratuitous ARP, the kernel's switching. What the demo does by hand, because the
component is not built: the extender's bind (allocate in the store, write `fip.io/allocation`),
the kubelet's sandbox work (make the pod netns, run the plugin, confirm deletions) and the
release controller's "keep the IP for an immutable instance" (`store.reserve`).

Every step is checked (annotation read back, CNI exit codes, pings, the switch's forwarding
table, the store record); a failed check raises DemoCheckFailed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from ipaddress import ip_address
from typing import Any

from fip.core import annotation
from fip.core.owner import OwnerKey
from fip.core.policy import ReleasePolicy
from fip.core.record import AllocationRecord, IPState
from fip.kube.resources import NODES, PODS
from fip.store.protocol import AllocateRequest, Store
from lab.demo_cluster import NODE_IPS, NS, Cluster, wait_for
from lab.demo_console import check, note, say, table
from lab.demo_nodes import GATEWAY, LEGACY_IP, MODES, NodeLab

SUBNET, PREFIX = "dc1-a", 24
OWNER = OwnerKey.of(NS, "StatefulSet", "web", "0")
Fipctl = Callable[..., None]


def _extender_bind(cluster: Cluster, store: Store, pod: dict[str, Any], node: str) -> AllocationRecord:
    """What the extender's bind will do: allocate in the node's subnet, annotate the pod."""
    uid = str(pod["metadata"]["uid"])
    req = AllocateRequest(SUBNET, OWNER, uid, "web-0", node, ReleasePolicy.IMMUTABLE, time.time())
    rec = store.allocate(req)
    value = annotation.Allocation(rec.ip, PREFIX, ip_address(GATEWAY), 0, SUBNET, OWNER).encode()
    cluster.client.patch(PODS, "web-0", {"metadata": {"annotations": {annotation.KEY: value}}}, NS)
    back = (cluster.pod("web-0")["metadata"].get("annotations") or {}).get(annotation.KEY)
    note(f"store: {rec.ip} {rec.state} for {OWNER.encode()} (pod UID {uid[:8]}..), node {node}")
    check(back == value, f"pod annotation {annotation.KEY}={back}")
    return rec


def _plug(lab: NodeLab, node: str, uid: str, ip: str) -> tuple[str, str]:
    """CNI ADD in a fresh sandbox netns; returns (sandbox netns, the pod's MAC)."""
    sandbox = lab.net.add_netns(f"web-0-{uid[:6]}")
    t0 = time.monotonic()
    code, res = lab.cni(node, "ADD", "web-0", uid, sandbox)
    ms = (time.monotonic() - t0) * 1000
    detail = res.get("msg", "") + " " + res.get("details", "") if code else ""
    check(
        code == 0, f"fip-cni ADD on {node} ({MODES[node]} mode) exit {code} in {ms:.0f} ms {detail}".rstrip()
    )
    iface = res["interfaces"][0]
    note(f"CNI result: {res['ips'][0]['address']} via {res['ips'][0]['gateway']}, eth0 mac {iface['mac']}")
    check(res["ips"][0]["address"] == f"{ip}/{PREFIX}", "the pod's eth0 carries the floating IP")
    return sandbox, str(iface["mac"])


def _ping(lab: NodeLab, ip: str) -> float | None:
    """Milliseconds until the legacy host's first echo reply from `ip`, or None."""
    t0 = time.monotonic()
    run = lab.net.run(lab.net.hosts["legacy"].netns, "ping", "-n", "-c", "1", "-W", "2", ip)
    return (time.monotonic() - t0) * 1000 if run.returncode == 0 and re.search("time=", run.stdout) else None


def _switch_port(lab: NodeLab, mac: str) -> str:
    port = lab.net.fdb("sw", 0).get(mac, "")
    owner = next((n for n, node in lab.net.nodes.items() if node.switch_ports.get(0) == port), "?")
    return f"{port or 'none'} ({owner})"


def _record(store: Store, ip: str) -> AllocationRecord:
    rec = store.get(SUBNET, ip_address(ip))
    check(rec is not None, f"store has a record for {ip}")
    assert rec is not None
    return rec


def story(cluster: Cluster, lab: NodeLab, store: Store, fipctl: Fipctl) -> None:
    note("dc1-a's L2 domain as namespaces; each node's fipd runs from the root namespace (--host-netns):")
    net = lab.net
    rows = [("switch", net.switches["sw"].netns, "bridge b0 (VLAN 0 = dc1-a's L2 domain)")]
    rows.append(("router", net.hosts["gw"].netns, f"{GATEWAY}/24 (dc1-a gateway), 192.168.11.1/24"))
    for node, ip in NODE_IPS.items():
        rows.append((node, net.nodes[node].netns, f"eth1 {ip}/24, fipd --mode {MODES[node]}"))
    rows.append(("legacy host", net.hosts["legacy"].netns, f"{LEGACY_IP}/24 (outside Kubernetes)"))
    table(("ROLE", "NETNS", "ADDRESSES"), rows)

    pod = cluster.pod("web-0")
    here = pod["spec"]["nodeName"]
    there = next(n for n in NODE_IPS if n != here)
    uid = pod["metadata"]["uid"]
    say(f"web-0 was bound to {here}; the extender's bind (not built) allocates, here the demo does it:")
    rec = _extender_bind(cluster, store, pod, here)
    ip = str(rec.ip)

    say(f"{here}'s kubelet (not built) starts the sandbox: the demo runs fip-cni ADD as containerd does:")
    sandbox, mac = _plug(lab, here, uid, ip)
    bound = _record(store, ip)
    check(bound.state == IPState.BOUND and bound.node == here, f"fipd marked {ip} bound to {here} in Redis")
    took = _ping(lab, ip)
    check(took is not None, f"legacy host {LEGACY_IP} pings web-0 at {ip} ({took or 0:.0f} ms)")
    note(f"switch forwards {mac} to port {_switch_port(lab, mac)}")

    say(f"{here} is drained: cordoned, web-0 deleted; its kubelet runs CNI DEL and confirms the deletion:")
    cluster.client.patch(NODES, here, {"spec": {"unschedulable": True}})
    cluster.client.delete(PODS, "web-0", NS, uid=uid)
    code, _ = lab.cni(here, "DEL", "web-0", uid, sandbox)
    check(code == 0 and lab.links(sandbox) == ["lo"], f"fip-cni DEL on {here}: the pod's eth0 is gone")
    cluster.client.delete(PODS, "web-0", NS, uid=uid, grace_period=0)
    store.reserve(SUBNET, rec.ip, OWNER, uid, time.time())
    note("the release controller (not built) keeps an immutable instance's IP: the demo calls reserve")
    fipctl("ips", "--owner", "shop/StatefulSet/web")
    stale = _switch_port(lab, mac)
    if here in stale:
        note(f"the switch still forwards {mac} to port {stale}: wrong as soon as web-0 moves")
    else:
        note(f"the switch has forgotten {mac}: {stale}")

    new = wait_for("a new web-0 bound to " + there, lambda: _replacement(cluster, uid))
    check(new["spec"]["nodeName"] == there, f"the StatefulSet controller made a new web-0, bound to {there}")
    new_uid = new["metadata"]["uid"]
    again = _extender_bind(cluster, store, new, there)
    check(again.ip == rec.ip, f"the new web-0 gets the same IP {ip} (owner {OWNER.encode()})")

    say(f"{there}'s kubelet plugs web-0 ({MODES[there]} mode); fipd sends gratuitous ARP before answering:")
    moved, _ = _plug(lab, there, new_uid, ip)
    port = _switch_port(lab, mac)
    check(there in port, f"when ADD answered, the switch already forwarded {mac} to port {port}")
    took = _ping(lab, ip)
    check(
        took is not None, f"legacy host reaches {ip} on {there} at once: first reply after {took or 0:.0f} ms"
    )
    check(lab.net.ping(moved, LEGACY_IP), f"and web-0 reaches the legacy host from {there}")
    fipctl("ips", "--owner", "shop/StatefulSet/web")
    final = _record(store, ip)
    check(
        final.state == IPState.BOUND and final.node == there and final.pod_uid == new_uid,
        f"record {ip}: bound to {there}, pod UID {new_uid[:8]}..",
    )


def _replacement(cluster: Cluster, old_uid: str) -> dict[str, Any] | None:
    for pod in cluster.pods():
        meta = pod["metadata"]
        if meta["name"] == "web-0" and meta["uid"] != old_uid and (pod.get("spec") or {}).get("nodeName"):
            return pod
    return None
