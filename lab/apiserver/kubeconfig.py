"""A normal kubeconfig for the fake server (plain HTTP on loopback, a token the server ignores)."""

from __future__ import annotations

import os
import pathlib

import yaml

CONTEXT = "fip-lab"


def kubeconfig(url: str, namespace: str = "default") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": {"token": "fip-lab-token"}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write(path: str | os.PathLike[str], url: str) -> pathlib.Path:
    """Write atomically (readers never see half a file); mode 0600 like kubectl's."""
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(yaml.safe_dump(kubeconfig(url), sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(target)
    return target
