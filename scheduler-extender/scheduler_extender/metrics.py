"""Prometheus metrics of the extender, safe under several gunicorn workers.

prometheus_client keeps per-process values; with `PROMETHEUS_MULTIPROC_DIR` set before it is
imported (the CLI does so, in a fresh temporary directory) every worker writes its values to
memory-mapped files there and `/metrics` sums them with a `MultiProcessCollector`, whatever
worker answers the scrape. Without the variable (tests, one process) the default registry serves.

Reasons are bounded categories (`reason_category`), never the free text of a refusal: label
cardinality stays fixed however many pods and subnets there are.
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    generate_latest,
    multiprocess,
)

from fip.core.record import Usage

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

LATENCY = Histogram(
    "fip_extender_request_seconds", "Extender request latency per verb", ["verb"], buckets=BUCKETS
)
CPU = Summary(
    "fip_extender_request_cpu_seconds",
    "CPU time of the thread that handled a request, per verb (decode, decide, store, encode; "
    "not the HTTP server's parsing): the code's cost, whatever else the machine runs",
    ["verb"],
)
DECISIONS = Counter("fip_extender_decisions_total", "Pods answered per verb and outcome", ["verb", "outcome"])
REJECTIONS = Counter("fip_extender_node_rejections_total", "Nodes refused by filter, by reason", ["reason"])
ALLOCATION_FAILURES = Counter(
    "fip_extender_allocation_failures_total", "Binds that did not allocate or bind, by reason", ["reason"]
)
SUBNET_IPS = Gauge(
    "fip_extender_subnet_ips",
    "Addresses per subnet and state as last read",
    ["subnet", "state"],
    multiprocess_mode="mostrecent",
)

_CATEGORIES = (
    ("no free IP", "subnet_full"),
    ("belongs to subnet", "other_subnet"),
    ("is reserved in subnet", "other_subnet"),
    ("in no fip Subnet", "node_without_subnet"),
    ("node cache", "node_not_cached"),
    ("waiting", "waiting_for_release"),
    ("is held by", "ip_held"),
    ("pool", "pool"),
    ("annotation", "annotation"),
    ("has no nodes", "subnet_without_nodes"),
)


def reason_category(reason: str) -> str:
    for needle, category in _CATEGORIES:
        if needle in reason:
            return category
    return "other"


def set_usage(usage: Usage) -> None:
    for state, value in (
        ("total", usage.total),
        ("allocated", usage.allocated),
        ("reserved", usage.reserved),
        ("free", usage.free),
    ):
        SUBNET_IPS.labels(usage.subnet, state).set(value)


def exposition() -> bytes:
    """The text exposition, merged over all workers when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
