"""Node -> subnet membership: which L2 domains a node sits in.

A node is in a Subnet when the Subnet's `NodeSelection` matches the node's labels and/or its
InternalIP addresses (`Subnet.nodes.matches`). A node may sit in several subnets (Galaxy allowed
one node subnet to map to several pod subnets); it may sit in none, and then no fip pod can run
there. `NodeSubnetIndex` keeps both directions up to date as nodes and subnet definitions change,
so the extender answers a filter over 5,000 names with dictionary lookups only.

Node addresses are read with `canonical=False`: fip did not write them. An address that does not
parse is skipped (it cannot match a node CIDR) rather than failing the whole node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass

from fip.core.addresses import parse_ip
from fip.core.errors import InvalidInput
from fip.core.subnet import IPAddress, Subnet


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What subnet membership depends on: labels and InternalIPs."""

    name: str
    labels: Mapping[str, str]
    internal_ips: tuple[IPAddress, ...] = ()


def node_facts(node: Mapping[str, object]) -> NodeFacts:
    """Read a raw Node object; InvalidInput when it has no name."""
    meta = node.get("metadata") if isinstance(node, Mapping) else None
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str) or not meta.get("name"):
        raise InvalidInput("node.metadata.name", meta, "is missing", "send Node objects with a name")
    raw_labels = meta.get("labels")
    labels = (
        {k: v for k, v in raw_labels.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(raw_labels, Mapping)
        else {}
    )
    status = node.get("status")
    addresses = status.get("addresses") if isinstance(status, Mapping) else None
    ips: list[IPAddress] = []
    for entry in addresses if isinstance(addresses, list) else []:
        if isinstance(entry, Mapping) and entry.get("type") == "InternalIP":
            try:
                ips.append(parse_ip("address", entry.get("address"), canonical=False))
            except InvalidInput:
                continue
    return NodeFacts(str(meta["name"]), labels, tuple(ips))


def subnets_of(node: NodeFacts, subnets: Iterable[Subnet]) -> frozenset[str]:
    """Names of the subnets `node` sits in."""
    labels = dict(node.labels)
    return frozenset(s.name for s in subnets if s.nodes.matches(labels, node.internal_ips))


class NodeSubnetIndex:
    """node name -> subnet names and subnet name -> node names, for the current definitions.

    Not thread-safe by itself: the extender swaps whole snapshots (`copy`) under its own lock,
    so readers never see a half-applied change.
    """

    def __init__(self, subnets: Iterable[Subnet] = ()) -> None:
        self._subnets: dict[str, Subnet] = {s.name: s for s in subnets}
        self._facts: dict[str, NodeFacts] = {}
        self._of: dict[str, frozenset[str]] = {}
        self._members: dict[str, set[str]] = {name: set() for name in self._subnets}
        self._multi: set[str] = set()  # nodes in more than one subnet
        self._homed: set[str] = set()  # nodes in at least one subnet
        self.generation = 0  # bumped whenever a node's subnets change (caches derived per name)
        self._covers: tuple[list[str], int, bool] | None = None  # homes_all's last answer

    def put_node(self, facts: NodeFacts) -> None:
        of = subnets_of(facts, self._subnets.values())
        if self._of.get(facts.name) == of and facts.name in self._facts:
            self._facts[facts.name] = facts  # a status update that moves the node nowhere
            return
        self.remove_node(facts.name)
        self.generation += 1
        self._facts[facts.name] = facts
        self._of[facts.name] = of
        for name in of:
            self._members[name].add(facts.name)
        if len(of) > 1:
            self._multi.add(facts.name)
        if of:
            self._homed.add(facts.name)

    def remove_node(self, name: str) -> None:
        if name in self._of:
            self.generation += 1
        for subnet in self._of.pop(name, frozenset()):
            self._members[subnet].discard(name)
        self._facts.pop(name, None)
        self._multi.discard(name)
        self._homed.discard(name)

    def set_subnets(self, subnets: Iterable[Subnet]) -> bool:
        """Replace the definitions and recompute every node; False when nothing changed."""
        new = {s.name: s for s in subnets}
        if new == self._subnets:
            return False
        self._subnets = new
        self.generation += 1
        self._members = {name: set() for name in new}
        self._multi = set()
        self._homed = set()
        facts = list(self._facts.values())
        self._facts.clear()
        self._of.clear()
        for f in facts:
            self.put_node(f)
        return True

    def known(self, node: str) -> bool:
        return node in self._of

    def subnet_sets(self, nodes: Iterable[str]) -> list[frozenset[str] | None]:
        """`subnets_of` for each of `nodes` in order, None for a node not known (one C-level map)."""
        return list(map(self._of.get, nodes))

    def subnets_of(self, node: str) -> frozenset[str]:
        """The node's subnets; empty for a node in none or not known (see `known`)."""
        return self._of.get(node, frozenset())

    def nodes_of(self, subnet: str) -> frozenset[str]:
        return frozenset(self._members.get(subnet, ()))

    def members(self, subnet: str) -> Set[str]:
        """The live member set of `subnet` (read only: set algebra over 5,000 nodes in C)."""
        return self._members.get(subnet, _EMPTY)

    def known_nodes(self) -> Set[str]:
        return self._of.keys()

    def homes_all(self, names: list[str]) -> bool:
        """Whether every one of `names` sits in a subnet; the answer for the last list asked
        about is kept until the index changes (the extender asks it of the same cached 5,000-name
        list on every filter; holding the list keeps its identity from being reused)."""
        got = self._covers
        if got is not None and got[0] is names and got[1] == self.generation:
            return got[2]
        verdict = self._homed.issuperset(names)
        self._covers = (names, self.generation, verdict)
        return verdict

    def homed(self) -> set[str]:
        """Nodes that sit in at least one subnet (the live set: read only)."""
        return self._homed

    def in_several(self) -> Set[str]:
        """Nodes that sit in more than one subnet."""
        return self._multi

    def populated(self, subnet: str) -> bool:
        return bool(self._members.get(subnet))

    def subnets(self) -> Mapping[str, Subnet]:
        return self._subnets

    def node_names(self) -> list[str]:
        return sorted(self._of)

    def copy(self) -> NodeSubnetIndex:
        out = NodeSubnetIndex()
        out._subnets = dict(self._subnets)
        out._facts = dict(self._facts)
        out._of = dict(self._of)
        out._members = {k: set(v) for k, v in self._members.items()}
        out._multi = set(self._multi)
        out._homed = set(self._homed)
        out.generation = self.generation  # a copy answers homes_all afresh (its own memo)
        return out


_EMPTY: frozenset[str] = frozenset()
