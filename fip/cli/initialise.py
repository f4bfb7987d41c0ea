"""`fipctl init`: mark a brand-new, empty store as initialised so allocation may start.

The store refuses to allocate until it is initialised, because an empty Redis looks exactly
like a Redis that lost its data (ARCHITECTURE "Redis loss"). After a loss the controllers
rebuild every bound IP from the pods' annotations and then declare the store intact; `init`
skips that rebuild, so it is only for a store that never held allocations — a first install,
or Kubernetes-less use. It asks for confirmation (`--yes` to skip), does nothing when the store
is already intact, and refuses when the store already holds subnets (a rebuild in progress or
a partial loss: the controllers' job, not the operator's).

`init --accept-server` is the one exception, for Kubernetes-less use: after a Redis restart or
failover the store refuses to allocate (`ServerChanged`: the new server may lack the last
writes) until the controllers rebuild it; an operator who knows nothing was lost (a clean
shutdown with `appendfsync always`, a replica that acknowledged every write) vouches for the
state with it instead. It does nothing else: a store that lost state stays refused.
"""

from __future__ import annotations

import argparse

from fip.cli.release import NotConfirmed
from fip.cli.session import Session, Verbs
from fip.cli.table import emit_object
from fip.core.errors import FipError
from fip.store.errors import ServerChanged, StateLost


class NotInitialised(FipError):
    """The store does not look new; initialising it could hide a loss."""


WARNING = (
    "initialise this store as NEW? If it lost its data, answer no and let the controllers rebuild it "
    "from Kubernetes instead"
)


ACCEPT_WARNING = (
    "declare that this Redis server holds every acknowledged write? If unsure, answer no and let "
    "fip-controllers rebuild the state from Kubernetes"
)


def confirm(session: Session, question: str) -> None:
    if not session.stdin.isatty():
        raise NotConfirmed("init: no terminal to confirm on; pass --yes to go on without asking")
    session.err.write(f"{question} [y/N] ")
    session.err.flush()
    if session.stdin.readline().strip().lower() not in ("y", "yes"):
        raise NotConfirmed("not initialised")


def initialise(session: Session, args: argparse.Namespace) -> int:
    store = session.store()
    try:
        store.check_intact()
    except ServerChanged as err:
        if not args.accept_server:
            raise
        if not args.yes:
            confirm(session, ACCEPT_WARNING)
        store.begin_rebuild()
        store.finish_rebuild()
        emit_object(
            session.out,
            session.output,
            {"initialised": False, "intact": True, "accepted": True},
            f"server accepted as holding every write ({err})",
        )
        return 0
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
        confirm(session, WARNING)
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
    p.add_argument(
        "--accept-server",
        action="store_true",
        help="after a Redis restart or failover, declare the new server complete (no rebuild)",
    )
    p.set_defaults(handler=initialise)
