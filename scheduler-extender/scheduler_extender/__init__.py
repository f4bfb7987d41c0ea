"""kube-scheduler HTTP extender: filter, prioritize, bind and preempt for floating IPs.

`create_app(view, get_pod, kube, ...)` is the Flask app factory (`scheduler_extender.app`): the
CLI builds the real view from `fip.kube` informers and a store, tests build one from fakes. It is
imported lazily so that `fip-extender` can point prometheus_client at its multi-process directory
before prometheus_client is first imported. See scheduler-extender/README.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(*args: Any, **kwargs: Any) -> Flask:
    from scheduler_extender.app import create_app as factory

    return factory(*args, **kwargs)


__all__ = ["create_app"]
