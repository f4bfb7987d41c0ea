"""The Flask app factory over the verbs (imported lazily by the package, see __init__)."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask

from fip.core.undo import FaultHook
from scheduler_extender.bind import Binder, Kube
from scheduler_extender.nodeindex import ClusterView
from scheduler_extender.routes import register
from scheduler_extender.verbs import PodGetter, Verbs

DEFAULT_PREFIX = "/fip"
DEFAULT_MAX_BODY = 32 * 1024 * 1024


def create_app(
    view: ClusterView,
    get_pod: PodGetter,
    kube: Kube,
    *,
    prefix: str = DEFAULT_PREFIX,
    max_body: int = DEFAULT_MAX_BODY,
    clock: Callable[[], float] = time.time,
    fault: FaultHook | None = None,
) -> Flask:
    app = Flask("scheduler_extender")
    app.config["MAX_CONTENT_LENGTH"] = None  # routes enforce max_body themselves (JSON 413)
    verbs = Verbs(view, get_pod, clock)
    binder = Binder(verbs, kube, fault)
    register(app, verbs, binder, prefix=prefix, max_body=max_body)
    app.extensions["fip"] = {"view": view, "verbs": verbs, "binder": binder}
    return app


__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_PREFIX", "ClusterView", "create_app"]
