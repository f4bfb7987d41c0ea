"""Prometheus metrics of fipd: CNI requests by command and outcome, and their latency.

Served on 127.0.0.1 only (`--metrics-port`); scrape through the pod network or a sidecar.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

REQUESTS = Counter("fipd_cni_requests_total", "CNI requests served", ["command", "outcome"])
LATENCY = Histogram(
    "fipd_cni_request_seconds",
    "time fipd spent on a CNI request",
    ["command"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30),
)


def observe(command: str, outcome: str, seconds: float) -> None:
    REQUESTS.labels(command, outcome).inc()
    LATENCY.labels(command).observe(seconds)


def serve_metrics(port: int) -> None:
    start_http_server(port, addr="127.0.0.1")
