"""Prometheus metrics of the Kubernetes layer (default registry; each process exports them on
its own /metrics). Labels are bounded: verbs, HTTP codes, resource names fip knows."""

from __future__ import annotations

from prometheus_client import Counter

REQUESTS = Counter("fip_kube_requests_total", "API server requests by verb and HTTP code", ["verb", "code"])
WATCH_RESTARTS = Counter(
    "fip_kube_watch_restarts_total",
    "Watches that ended and were opened again, by resource and why",
    ["resource", "reason"],
)
RELISTS = Counter("fip_kube_relists_total", "Full lists done by informers", ["resource"])
