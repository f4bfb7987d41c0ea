"""`fipctl init`: mark a brand-new, empty store as initialised so allocation may start.

The store refuses to allocate until it is initialised, because an empty Redis looks exactly
like a Redis that lost its data (ARCHITECTURE "Redis loss"). After a loss the controllers
rebuild every bound IP from the pods' annotations and then declare the store intact; `init`
skips that rebuild, so it is only for a store that never held allocations — a first install,
or Kubernetes-less use. It asks for confirmation (`--yes` to skip), does nothing when the store
is already intact, and refuses when the store already holds subnets (a rebuild in progress or
a partial loss: the controllers' job, not the operator's).
"""

from __future__ import annotations

import argparse

from fip.cli.release import NotConfirmed
from fip.cli.session import Session, Verbs
from fip.cli.table import emit_object
from fip.core.errors import FipError
from fip.store.errors import StateLost


class NotInitialised(FipError):
    """The store does not look new; initialising it could hide a loss."""


WARNING = (
    "initialise this store as NEW? If it lost its data, answer no and let the controllers rebuild it "
    "from Kubernetes instead"
)


def initialise(session: Session, args: argparse.Namespace) -> int:
    store = session.store()
    try:
        store.check_intact()
    except StateLost:
        pass
    else:
        emit_object(
            session.out, session.output, {"initialised": False, "intact": True}, "store already initialised"
        )
        return 0
    if store.subnets():
        raise NotInitialised(
            "init: the store is not marked intact but already holds subnets: a rebuild may be "
            "running, or the state was lost part-way; let fip-controllers rebuild it from Kubernetes"
        )
    if not args.yes:
        if not session.stdin.isatty():
            raise NotConfirmed("init: no terminal to confirm on; pass --yes to initialise without asking")
        session.err.write(f"{WARNING} [y/N] ")
        session.err.flush()
        if session.stdin.readline().strip().lower() not in ("y", "yes"):
            raise NotConfirmed("not initialised")
    store.initialise()
    emit_object(session.out, session.output, {"initialised": True, "intact": True}, "store initialised")
    return 0


def add_parsers(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "init",
        parents=[common],
        help="initialise a new, empty store so allocation can start",
        description="Mark a brand-new store as initialised. Not for a store that lost its data.",
    )
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=initialise)
