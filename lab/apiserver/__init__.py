"""The lab's fake kube-apiserver: the Kubernetes REST API over real HTTP, held to the real
server's behaviour so the unmodified official client works against it.

Layout: `resources` (what is served, CRDs from deploy/crds), `storage` + `history` (objects,
resourceVersions, change log), `pods` (binding, graceful deletion), `gc` (ownerReference cascade,
namespace deletion, grace reaper), `patch`, `selectors`, `validation`, `defaults`, `watch`,
`routes` + `handler` (HTTP; `streaming`, `deleting`), `media` (content types), `tables`
(+ `printers`, `podprint`, `jsonpath`: server-side printing), `fields` (field validation),
`openapi` (/openapi/v2, /openapi/v3), `discovery`, `control` (test faults), `kubeconfig`,
`server` (`APIServer`), `cli` (`fip-lab apiserver`).
"""

from __future__ import annotations

from lab.apiserver.server import APIServer

__all__ = ["APIServer"]
