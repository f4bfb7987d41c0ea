"""One fipctl invocation: where the store is, how to print, which streams and clock to use.

Verbs receive a `Session` instead of reaching for globals, so tests drive them with an
in-memory store, string streams and a fixed clock. The store is opened lazily: `fipctl --help`
and usage errors never touch Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeAlias

from fip.cli.operands import BadArgument
from fip.core.errors import InvalidInput
from fip.store.protocol import Store

ENV_URL = "FIP_REDIS_URL"

# What `ArgumentParser.add_subparsers()` returns; each verb module adds its parsers to it.
Verbs: TypeAlias = "argparse._SubParsersAction[Any]"


def url_from(flag: str | None, environ: Mapping[str, str]) -> tuple[str | None, str]:
    """The store URL and where it came from: `--redis-url` wins over `FIP_REDIS_URL`.
    The URL is None when neither is set (an error only once a verb needs the store)."""
    if flag is not None:
        return flag, "--redis-url"
    url = environ.get(ENV_URL)
    return (url if url else None), ENV_URL


@dataclass
class Session:
    url: str | None
    url_field: str
    output: str
    out: TextIO
    err: TextIO
    stdin: TextIO
    opener: Callable[[str, str], Store]  # (url, field naming its source) -> Store
    clock: Callable[[], float] = time.time
    owns_store: bool = True  # close it at the end (False when a caller lent its own store)
    _store: Store | None = field(default=None, repr=False)

    def store(self) -> Store:
        """The store, opened on first use. A missing or malformed URL is a usage error
        (BadArgument); an unreachable server is the opener's StoreUnavailable."""
        if self._store is None:
            if self.url is None:
                raise BadArgument(
                    "--redis-url",
                    "",
                    "is not set",
                    f"pass --redis-url redis://HOST:PORT/DB or export {ENV_URL}",
                )
            try:
                self._store = self.opener(self.url, self.url_field)
            except BadArgument:
                raise
            except InvalidInput as err:
                raise BadArgument(err.field, err.value, err.problem, err.fix) from None
        return self._store

    def close(self) -> None:
        """Close the store if it was opened; errors on the way out are not the verb's result."""
        if self._store is not None and self.owns_store:
            store, self._store = self._store, None
            with contextlib.suppress(Exception):
                store.close()

    def note(self, text: str) -> None:
        """A line for the person at the terminal (stderr, so `-o json` output stays clean)."""
        self.err.write(text + "\n")
