"""The lab API server's OpenAPI: `/openapi/v2`, `/openapi/v3` and its per group-version documents.

Built-in kinds are described by kube-apiserver 1.37's own definitions, generated at build time
into `builtin.json.gz` (`scripts/gen_openapi.py`, from the `kubernetes-validate` wheel; committed,
so nothing is fetched at run time); custom resources by their CRDs' own schemas, rebuilt when a
CRD changes.
`documents` assembles and caches them; `serve` answers the HTTP requests.
"""

from __future__ import annotations

from lab.apiserver.openapi.documents import Documents

__all__ = ["Documents"]
