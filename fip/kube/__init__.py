"""The one Kubernetes layer, over the official `kubernetes` client.

    resources   where each kind lives in the REST API; `key_of` (pure, no client import)
    types       TypedDicts of the raw JSON fip reads (Pod, Node, OwnerReference, ...)
    client      KubeClient: get / list / create / update / patch / delete / watch, Binding
                with a UID precondition, Events (the only importer of `kubernetes`)
    errors      KubeError (a FipError) -> NotFound, Conflict, Expired, Invalid, KubeUnavailable
    informer    list + watch into a cache, re-list on 410 with bounded back-off, `synced`
    workqueue   keyed, de-duplicating work queue with per-key retry back-off
    lease       LeaseLock and LeaderElector over coordination.k8s.io/v1 Leases
    metrics     the layer's Prometheus counters

The extender, the controllers, fipd and every lab component use these and nothing else to
reach an API server; an import-linter contract keeps `kubernetes` inside `client`.
"""
