"""fip: floating IPs for Kubernetes pods.

`fip.core` holds the pure model and decisions, `fip.store` the allocation store (in-memory and
Redis), `fip.kube` the Kubernetes adapter, `fip.cli` the operator tool `fipctl`.
"""
