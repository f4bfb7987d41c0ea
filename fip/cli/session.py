"""One fipctl invocation: where the store is, how to print, which streams and clock to use.

Verbs receive a `Session` instead of reaching for globals, so tests drive them with an
in-memory store, string streams and a fixed clock. The store is opened lazily: `fipctl --help`
and usage errors never touch Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

from fip.core.errors import InvalidInput
from fip.store.protocol import Store

ENV_URL = "FIP_REDIS_URL"


def resolve_url(flag: str | None, environ: Mapping[str, str]) -> str:
    """`--redis-url` wins over `FIP_REDIS_URL`; neither is a usage error with the fix."""
    url = flag if flag is not None else environ.get(ENV_URL)
    if url is None or not url.strip():
        raise InvalidInput(
            "--redis-url",
            url or "",
            "is not set",
            f"pass --redis-url redis://HOST:PORT/DB or export {ENV_URL}",
        )
    return url.strip()


@dataclass
class Session:
    url: str | None
    output: str
    out: TextIO
    err: TextIO
    stdin: TextIO
    opener: Callable[[str], Store]
    clock: Callable[[], float] = time.time
    _store: Store | None = field(default=None, repr=False)

    def store(self) -> Store:
        """The store, opened on first use. Raises InvalidInput when no URL was given."""
        if self._store is None:
            if self.url is None:
                raise InvalidInput(
                    "--redis-url",
                    "",
                    "is not set",
                    f"pass --redis-url redis://HOST:PORT/DB or export {ENV_URL}",
                )
            self._store = self.opener(self.url)
        return self._store

    def note(self, text: str) -> None:
        """A line for the person at the terminal (stderr, so `-o json` output stays clean)."""
        self.err.write(text + "\n")
