"""Authentication and authorization stand-ins: the lab server trusts every client.

- `serviceaccounts/{name}/token` (TokenRequest) answers 201 with an unsigned JWT-shaped token
  and its expiry (default one hour), for the service account if it exists (404 otherwise).
- `SelfSubjectAccessReview` / `SubjectAccessReview` answer 201 with `status.allowed: true`.
No token is ever checked: the kubeconfig's bearer token is ignored.
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

import orjson

from lab.apiserver.resources import ResourceType
from lab.apiserver.status import bad_request

if TYPE_CHECKING:
    from lab.apiserver.store import Store

Obj = dict[str, Any]


def _b64(data: Obj) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def token_request(store: Store, ns: str, name: str, body: Any) -> Obj:
    if not isinstance(body, dict):
        raise bad_request("json: cannot unmarshal into Go value of type authentication.TokenRequest")
    sa = store.current(store.registry.lookup("serviceaccounts"), ns, name)
    spec = dict(body.get("spec") or {})
    seconds = int(spec.get("expirationSeconds") or 3600)
    spec["expirationSeconds"] = seconds
    spec.setdefault("audiences", ["https://kubernetes.default.svc.cluster.local"])
    now = time.time()
    claims = {
        "aud": spec["audiences"],
        "exp": int(now + seconds),
        "iat": int(now),
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": f"system:serviceaccount:{ns}:{name}",
        "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": name, "uid": sa["metadata"]["uid"]}},
    }
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.fip-lab"
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + seconds))
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": store.now()},
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": expiry},
    }


def review(rt: ResourceType, body: Any) -> Obj:
    if not isinstance(body, dict):
        raise bad_request(f"json: cannot unmarshal into Go value of type authorization.{rt.kind}")
    return {
        "kind": rt.kind,
        "apiVersion": rt.api_version,
        "metadata": {"creationTimestamp": None},
        "spec": body.get("spec") or {},
        "status": {"allowed": True, "reason": "the fip lab API server authorizes every request"},
    }
