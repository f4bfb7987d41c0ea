"""The lab API server's OpenAPI: `/openapi/v2`, `/openapi/v3` and its per group-version documents.

Built-in kinds are described by definitions generated from the official Python client's models
into `builtin.json.gz` (`scripts/gen_openapi.py`; the lab may not import `kubernetes`, so the
models are read once at build time and the JSON is committed), with patch strategies and merge
keys from `patchmeta`; custom resources by their CRDs' own schemas, rebuilt when a CRD changes.
`documents` assembles and caches them; `serve` answers the HTTP requests.
"""

from __future__ import annotations

from lab.apiserver.openapi.documents import Documents

__all__ = ["Documents"]
