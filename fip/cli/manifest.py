"""Subnet and Pool manifests for `fipctl subnets apply`: YAML in, a checked plan out.

A manifest is a multi-document YAML file of `fip.io/v1` Subnet and Pool custom resources (the
same shape `kubectl apply` takes), so one file serves a cluster and a Kubernetes-less set-up.
Everything is validated before anything is written: each document on its own (through
`fip.core.spec`), names unique in the file, no two subnets overlapping (the file's and the
stored ones together), every pool's subnet known, and no changed subnet dropping an IP that is
handed out. Only then does `plan` return the changes to make.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import yaml

from fip.core.errors import FipError, InvalidInput
from fip.core.record import AllocationRecord
from fip.core.spec import check_no_overlap, parse_pool, parse_subnet
from fip.core.subnet import Pool, Subnet

API_VERSION = "fip.io/v1"
MAX_BYTES = 8 * 1024 * 1024


class ManifestError(FipError):
    """The file is not YAML at all (the message names the line and column)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    subnets: tuple[Subnet, ...]
    pools: tuple[Pool, ...]


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # "Subnet" | "Pool"
    name: str
    action: str  # "created" | "configured" | "unchanged"
    definition: Subnet | Pool


def load_manifest(text: str, source: str) -> Manifest:
    """Parse every document of `text`; empty documents are skipped. Raises InvalidInput."""
    if len(text) > MAX_BYTES:
        raise InvalidInput(source, f"{len(text)} bytes", "is too large", f"split it below {MAX_BYTES} bytes")
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ManifestError(
            f"{source}: not valid YAML{where}: {err.problem or err}; fix the YAML syntax"
        ) from None
    except (yaml.YAMLError, RecursionError) as err:
        raise ManifestError(f"{source}: not valid YAML ({type(err).__name__}); fix the YAML syntax") from None
    subnets: dict[str, Subnet] = {}
    pools: dict[str, Pool] = {}
    for index, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        where = f"{source} document {index}"
        kind = _check_header(where, doc)
        try:
            if kind == "Subnet":
                subnet = parse_subnet(doc)
                _unique(where, kind, subnet.name, subnets)
                subnets[subnet.name] = subnet
            else:
                pool = parse_pool(doc)
                _unique(where, kind, pool.name, pools)
                pools[pool.name] = pool
        except InvalidInput as err:
            raise err.within(f"{where}, {err.where}" if err.where else f"{where} ({kind})") from None
    if not subnets and not pools:
        raise InvalidInput(source, "", "holds no Subnet or Pool", "give at least one fip.io/v1 resource")
    return Manifest(tuple(subnets.values()), tuple(pools.values()))


def _check_header(where: str, doc: object) -> str:
    if not isinstance(doc, dict):
        raise InvalidInput(
            where, doc, "is not a resource", "each document is a mapping with apiVersion and kind"
        )
    if doc.get("apiVersion") != API_VERSION:
        raise InvalidInput(
            f"{where} apiVersion", doc.get("apiVersion"), "is not supported", f"use {API_VERSION}"
        )
    kind = doc.get("kind")
    if kind not in ("Subnet", "Pool"):
        raise InvalidInput(f"{where} kind", kind, "is not a fip resource", "use Subnet or Pool")
    return str(kind)


def _unique(where: str, kind: str, name: str, seen: dict[str, Subnet] | dict[str, Pool]) -> None:
    if name in seen:
        raise InvalidInput(
            f"{where} metadata.name", name, f"names a second {kind}", "give each a unique name"
        )


def plan(
    manifest: Manifest,
    stored_subnets: Sequence[Subnet],
    stored_pools: Sequence[Pool],
    records_of: Callable[[str], Sequence[AllocationRecord]],
) -> list[Change]:
    """The changes `manifest` makes to the stored definitions, after checking them together.

    `records_of(subnet)` lists the records held in a stored subnet; it is called only for
    subnets the manifest changes. Raises InvalidInput; returns subnets first, then pools.
    """
    old_subnets = {s.name: s for s in stored_subnets}
    old_pools = {p.name: p for p in stored_pools}
    merged = dict(old_subnets)
    merged.update({s.name: s for s in manifest.subnets})
    check_no_overlap(list(merged.values()))
    changes: list[Change] = []
    for subnet in manifest.subnets:
        old = old_subnets.get(subnet.name)
        if old is not None and old != subnet:
            for rec in records_of(subnet.name):
                if not subnet.requestable(rec.ip):
                    raise InvalidInput(
                        f"Subnet {subnet.name}",
                        str(rec.ip),
                        f"is held by {rec.owner} but the new definition no longer hands it out",
                        f"release it first (fipctl release {rec.ip}) or keep it in the ranges",
                    )
        changes.append(Change("Subnet", subnet.name, _action(old, subnet), subnet))
    for pool in manifest.pools:
        if pool.subnet not in merged:
            raise InvalidInput(
                f"Pool {pool.name} spec.subnet",
                pool.subnet,
                "is not a known subnet",
                "define the Subnet first",
            )
        changes.append(Change("Pool", pool.name, _action(old_pools.get(pool.name), pool), pool))
    return changes


def _action(old: object, new: object) -> str:
    if old is None:
        return "created"
    return "unchanged" if old == new else "configured"
