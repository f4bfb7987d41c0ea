"""`fipctl`: the operator's view of the floating-IP store.

    fipctl [--redis-url URL] [-o table|json] VERB ...
      subnets                  usage of every subnet
      subnets apply -f FILE    load Subnet / Pool resources (YAML; - for stdin)
      ips [--subnet S] [--owner O]
      release IP [--subnet S] [--yes]
      init [--yes]             initialise a brand-new store
      check [--kubeconfig P]   every inconsistency between the store and Kubernetes (exit 1 if any)

The store is found from `--redis-url` or `FIP_REDIS_URL` (`redis://`, `rediss://`,
`redis+cluster://`, `redis+sentinel://`; `memory://` for a throwaway store).

Exit codes: 0 done; 1 the operation failed (the reason on stderr, one line); 2 usage (a flag
or argument that does not parse). No input shows a traceback: an unexpected error prints one
line and the hint to rerun with `--debug`.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn, TextIO

from fip.cli import check, initialise, ips, release, subnets
from fip.cli.operands import BadArgument
from fip.cli.session import Session, url_from
from fip.cli.table import FORMATS
from fip.core.errors import FipError
from fip.store.protocol import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


class ParserExit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `main` owns every exit and every message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise ParserExit(status)


def build_parser() -> Parser:
    # Global options are accepted before and after the verb; SUPPRESS keeps a verb's parser
    # from overwriting a value given before the verb with its default.
    common = Parser(add_help=False)
    common.add_argument(
        "--redis-url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="the store: redis://HOST:PORT/DB, rediss://, redis+cluster://, redis+sentinel:// "
        "(default: $FIP_REDIS_URL)",
    )
    common.add_argument("-o", "--output", choices=FORMATS, default=argparse.SUPPRESS, help="table or json")
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="tracebacks on errors"
    )
    parser = Parser(
        prog="fipctl",
        parents=[common],
        description="Inspect and operate the fip floating-IP store.",
        epilog="The store location comes from --redis-url or FIP_REDIS_URL.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    subnets.add_parsers(verbs, common)
    ips.add_parsers(verbs, common)
    release.add_parsers(verbs, common)
    initialise.add_parsers(verbs, common)
    check.add_parsers(verbs, common)
    return parser


def _default_opener(url: str, field: str) -> Store:
    from fip.store.factory import open_store

    return open_store(url, field)


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    opener: Callable[[str, str], Store] | None = None,
    clock: Callable[[], float] | None = None,
) -> int:
    """Run one fipctl command; returns the exit code. Tests inject streams and a store opener."""
    err = stderr or sys.stderr
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(args_list)
    except UsageError as exc:
        err.write(f"{exc.usage}fipctl: error: {exc}\n")
        return EXIT_USAGE
    except ParserExit as exc:
        return exc.status
    url, url_field = url_from(getattr(args, "redis_url", None), os.environ if environ is None else environ)
    session = Session(
        url=url,
        url_field=url_field,
        output=getattr(args, "output", "table"),
        out=stdout or sys.stdout,
        err=err,
        stdin=stdin or sys.stdin,
        opener=opener or _default_opener,
        owns_store=opener is None,
    )
    if clock is not None:
        session.clock = clock
    try:
        return _run(session, args, err)
    finally:
        session.close()


def _run(session: Session, args: argparse.Namespace, err: TextIO) -> int:
    """Run the verb; every exception becomes one line on stderr and an exit code."""
    debug = bool(getattr(args, "debug", False))
    code = EXIT_FAILED
    try:
        code = args.handler(session, args)
    except BadArgument as exc:
        err.write(f"fipctl: error: {exc}\n")
        code = EXIT_USAGE
    except FipError as exc:
        err.write(f"fipctl: {exc}\n")
        if debug:
            traceback.print_exc(file=err)
    except KeyboardInterrupt:
        err.write("fipctl: interrupted\n")
        code = 130
    except BrokenPipeError:
        pass
    except Exception as exc:
        if debug:
            traceback.print_exc(file=err)
        else:
            err.write(
                f"fipctl: internal error ({type(exc).__name__}: {exc}); "
                "this is a bug; rerun with --debug for the traceback\n"
            )
    return code


if __name__ == "__main__":
    sys.exit(main())
