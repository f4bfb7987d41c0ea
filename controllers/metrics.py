"""The controllers' Prometheus metrics (default registry, served on /metrics with fip.kube's)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

STEPS = Counter("fip_controller_steps_total", "Reserve / release steps applied to the store", ["action"])
ERRORS = Counter("fip_controller_errors_total", "Failed reconciles (retried)", ["where"])
RECORDED = Counter("fip_controller_recorded_total", "Records written from Kubernetes", ["why"])
CONFLICTS = Counter("fip_controller_conflicts_total", "IPs two live pods claim", ["where"])
REBUILDS = Counter("fip_controller_rebuilds_total", "Rebuilds of the store from Kubernetes", ["trigger"])
LEADING = Gauge("fip_controller_leading", "1 while this replica holds the Lease")
RECONCILE_SECONDS = Histogram(
    "fip_controller_reconcile_seconds",
    "Duration of one full reconcile pass",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30),
)
REBUILD_SECONDS = Histogram(
    "fip_controller_rebuild_seconds", "Duration of one rebuild", buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60)
)
