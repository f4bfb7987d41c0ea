"""Carry a Galaxy (Floating-IP mode) installation over to fip: docs/migrate-from-galaxy.md.

    python3 scripts/galaxy_to_fip.py subnets CONFIG.json [--node-label KEY] [--exclude FIPS.json] > s.yaml
    python3 scripts/galaxy_to_fip.py reservations FIPS.json s.yaml > annotate.sh

`subnets` turns galaxy-ipam's pool configuration (`kubectl -n kube-system get configmap
floatingip-config -o json`, or the bare `floatingips` JSON list) into fip Subnet resources: one
per pod CIDR, Galaxy's entries for that CIDR merged (their `nodeSubnets` become `nodeCIDRs`,
their `ips` "a~b" become `ranges` "a-b"). `--node-label KEY` adds a nodeSelector `KEY: "true"`
to every Subnet: a node is then in a Subnet only once it carries that label as well (for moving
node by node; a node stays in every Subnet its InternalIP belongs to). `--exclude` lists in `excluded` every
address Galaxy holds that will not come over as a reservation (default policy, bare pods,
pool-only), so fip cannot hand out an address a Galaxy pod still uses while both run. Every
Subnet passes fip's own parser and overlap check before anything is printed.

`reservations` reads Galaxy's FloatingIP objects (`kubectl get floatingips.galaxy.k8s.io -o
json`) and prints one `kubectl annotate` per workload, writing the `fip.io/reserved-ips` that
fip-controllers restore on the first rebuild of a new store: StatefulSet and TApp IPs per
ordinal, Deployment IPs as a set. What cannot be carried is printed as a comment saying why:
IPs under Galaxy's default policy (they leave with the pod), bare pods, pool-only reservations,
IPs outside every Subnet. Exit 1 with one line on stderr for bad input.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import shlex
import sys
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import yaml

from fip.core import reservations
from fip.core.errors import FipError
from fip.core.spec import check_no_overlap, parse_subnet, subnet_to_resource
from fip.core.subnet import Subnet

KINDS = {"sts": "statefulset", "dp": "deployment", "tapp": "tapp.apps.tkestack.io"}


class Refused(FipError):
    """Input this tool cannot convert; the message names the entry."""


def galaxy_entries(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and "data" in doc:  # the ConfigMap itself
        doc = json.loads(doc["data"]["floatingips"])
    if not isinstance(doc, list) or not all(isinstance(e, dict) for e in doc):
        raise Refused("config: expected the floatingips JSON list or the floatingip-config ConfigMap")
    return doc


def to_subnets(
    entries: list[dict[str, Any]], node_label: str = "", exclude: Iterable[str] = ()
) -> list[Subnet]:
    held = {ipaddress.ip_address(x) for x in exclude}
    by_cidr: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(entries):
        cidr, gw, vlan = e.get("subnet"), e.get("gateway"), int(e.get("vlan", 0))
        nodes = e.get("nodeSubnets") or ([e["routableSubnet"]] if e.get("routableSubnet") else [])
        if not cidr or not gw or not nodes:
            raise Refused(f"floatingips[{i}]: needs subnet, gateway and nodeSubnets")
        s = by_cidr.setdefault(cidr, {"gateway": gw, "vlan": vlan, "ranges": [], "nodes": []})
        if (s["gateway"], s["vlan"]) != (gw, vlan):
            raise Refused(f"floatingips[{i}]: {cidr} appears with two gateways or VLANs")
        s["ranges"] += [r.replace("~", "-") for r in e.get("ips") or []]
        s["nodes"] += [n for n in nodes if n not in s["nodes"]]
    out = []
    for cidr, s in by_cidr.items():
        name = "galaxy-" + cidr.replace(".", "-").replace(":", "-").replace("/", "-").strip("-")
        spec: dict[str, Any] = {"cidr": cidr, "gateway": s["gateway"], "vlan": s["vlan"]}
        if s["ranges"]:
            spec["ranges"] = s["ranges"]
        net = ipaddress.ip_network(cidr)
        inside = sorted(str(a) for a in held if a.version == net.version and a in net)
        if inside:
            spec["excluded"] = inside
        spec["nodeCIDRs"] = s["nodes"]
        if node_label:
            spec["nodeSelector"] = {"matchLabels": {node_label: "true"}}
        out.append(parse_subnet({"apiVersion": "fip.io/v1", "kind": "Subnet", "metadata": {"name": name},
                                 "spec": spec}))  # fmt: skip
    check_no_overlap(out)
    return out


def not_carried(fips: Iterable[dict[str, Any]]) -> list[str]:
    """Addresses Galaxy holds that `reservations` does not carry over."""
    out = []
    for f in fips:
        spec = f.get("spec") or {}
        if int(spec.get("policy", 0)) == 0 or isinstance(owner_of(str(spec.get("key", ""))), str):
            out.append(str(f["metadata"]["name"]))
    return out


def owner_of(key: str) -> tuple[str, str, str, str] | str:
    """Galaxy key -> (kubectl kind, namespace, name, instance), or the reason it is not carried."""
    parts = key.split("_")
    if parts[:2] == ["pool", ""]:
        parts = parts[3:]  # pool__<pool>_<key>: the pool is named on the pods (eni-ip-pool alias)
        if len(parts) < 4 or not parts[3]:
            return "reserved for a pool, not for a workload"
    if len(parts) != 4 or parts[0] not in KINDS:
        return "a bare pod or an unknown owner: no workload object can carry it"
    kind, ns, app, pod = parts
    if kind == "dp":
        return KINDS[kind], ns, app, ""
    ordinal = pod.rsplit("-", 1)[-1]
    if not pod.startswith(app + "-") or not ordinal.isdigit():
        return f"pod {pod!r} has no ordinal"
    return KINDS[kind], ns, app, str(int(ordinal))


def annotate_commands(fips: Iterable[dict[str, Any]], subnets: list[Subnet]) -> list[str]:
    wanted: dict[tuple[str, str, str], list[reservations.Reservation]] = defaultdict(list)
    lines = []
    for f in fips:
        ip, spec = f["metadata"]["name"], f.get("spec") or {}
        addr = ipaddress.ip_address(ip)
        if int(spec.get("policy", 0)) == 0:
            lines.append(f"# {ip}: Galaxy policy 0 (release with the pod): not kept")
            continue
        who = owner_of(str(spec.get("key", "")))
        home = next((s for s in subnets if addr in s.cidr), None)
        if isinstance(who, str) or home is None:
            lines.append(f"# {ip} ({spec.get('key')}): {who if isinstance(who, str) else 'in no Subnet'}")
            continue
        kind, ns, name, inst = who
        wanted[(kind, ns, name)].append(reservations.Reservation(inst, home.name, addr))
    for (kind, ns, name), items in sorted(wanted.items()):
        value = reservations.encode(items)
        reservations.parse(value)  # what the controllers will accept
        lines.append(
            f"kubectl -n {ns} annotate --overwrite {kind} {name} {reservations.KEY}={shlex.quote(value)}"
        )
    return lines


def items(doc: Any) -> list[dict[str, Any]]:
    """The FloatingIP objects of `kubectl get -o json` (a List) or a bare JSON list."""
    got = doc.get("items") if isinstance(doc, dict) else doc
    if not isinstance(got, list) or not all(isinstance(f, dict) and "metadata" in f for f in got):
        raise Refused("floatingips: expected `kubectl get floatingips.galaxy.k8s.io -o json` output")
    return got


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    verbs = p.add_subparsers(dest="verb", required=True)
    s = verbs.add_parser("subnets", help="floatingip-config -> fip Subnets (YAML)")
    s.add_argument("config")
    s.add_argument("--node-label", default="", help='nodes need label KEY="true" too')
    s.add_argument("--exclude", metavar="FIPS", help="exclude Galaxy's addresses that are not carried over")
    r = verbs.add_parser("reservations", help="FloatingIP objects -> kubectl annotate commands")
    r.add_argument("floatingips")
    r.add_argument("subnets")
    args = p.parse_args(argv)
    try:
        if args.verb == "subnets":
            held: list[str] = []
            if args.exclude:
                with open(args.exclude) as fh:
                    held = not_carried(items(json.load(fh)))
            with open(args.config) as fh:
                subnets = to_subnets(galaxy_entries(json.load(fh)), args.node_label, held)
            print(yaml.safe_dump_all([subnet_to_resource(x) for x in subnets], sort_keys=False), end="")
        else:
            with open(args.subnets) as fh:
                subnets = [parse_subnet(d) for d in yaml.safe_load_all(fh) if d and d.get("kind") == "Subnet"]
            with open(args.floatingips) as fh:
                print("\n".join(annotate_commands(items(json.load(fh)), subnets)))
    except (OSError, ValueError, KeyError, TypeError, FipError) as err:
        print(f"galaxy_to_fip: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
