"""Store URLs: the one parser for `FIP_REDIS_URL` / `--redis-url` (outside input, so strict).

Forms:
    memory://[name]                                  in-process store (tests, lab, benchmarks)
    redis://[user:password@]host[:port][/db]         standalone Redis (port 6379, db 0 by default)
    rediss://...                                     the same over TLS
    redis+cluster://[auth@]host:port[,host:port...]  Redis Cluster seed nodes (db 0 only)
    redis+sentinel://[auth@]host:port[,...]/master   Sentinels and the master name (port 26379)

Hosts are DNS names, IPv4 dotted quads (no leading zeros) or [IPv6]. User and password may be
percent-encoded. Query strings and fragments are refused rather than silently ignored. Every
message shows the URL with its password masked.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from fip.core.errors import InvalidInput

SCHEMES = ("memory", "redis", "rediss", "redis+cluster", "redis+sentinel")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_DIGITS = re.compile(r"^(0|[1-9][0-9]*)$")
_MASTER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MEMNAME = re.compile(r"^[a-z0-9-]{0,63}$")
_FORMS = (
    "use redis://host:port/db, rediss://..., redis+cluster://host:port[,host:port...], "
    "redis+sentinel://host:port[,...]/master-name or memory://"
)


@dataclass(frozen=True, slots=True)
class StoreURL:
    scheme: str
    hosts: tuple[tuple[str, int], ...] = ()
    db: int = 0
    username: str = ""
    password: str = ""
    master: str = ""  # redis+sentinel only
    name: str = ""  # memory:// only

    @property
    def tls(self) -> bool:
        return self.scheme == "rediss"

    def redacted(self) -> str:
        """The URL for messages and logs: password masked."""
        if self.scheme == "memory":
            return f"memory://{self.name}"
        auth = ""
        if self.username or self.password:
            auth = self.username + (":***" if self.password else "") + "@"
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts)
        tail = (
            f"/{self.master}"
            if self.master
            else (f"/{self.db}" if self.scheme in ("redis", "rediss") else "")
        )
        return f"{self.scheme}://{auth}{hosts}{tail}"


def redact(text: str) -> str:
    """Mask the password part of something URL-like, even when it does not parse."""
    m = re.match(r"^([^:/]*://)([^@/]*)@", text)
    if not m:
        return text
    user = m.group(2).split(":", 1)[0]
    return f"{m.group(1)}{user}:***@{text[m.end() :]}" if ":" in m.group(2) else text


class _Parse:
    """One parse of one URL text; `fail` builds the InvalidInput with the password masked."""

    def __init__(self, field: str, text: str) -> None:
        self.field = field
        self.text = text

    def fail(self, problem: str, fix: str = _FORMS) -> InvalidInput:
        return InvalidInput(self.field, redact(self.text), problem, fix)

    def unquote(self, part: str, what: str) -> str:
        out = bytearray()
        raw = part.encode()
        i = 0
        while i < len(raw):
            if raw[i : i + 1] == b"%":
                hexpart = raw[i + 1 : i + 3].decode(errors="replace")
                if len(hexpart) != 2 or not all(c in "0123456789abcdefABCDEF" for c in hexpart):
                    raise self.fail(
                        f"has a bad percent-escape in the {what}", "write %XX with two hex digits"
                    )
                out.append(int(hexpart, 16))
                i += 3
            else:
                out.append(raw[i])
                i += 1
        try:
            return out.decode()
        except UnicodeDecodeError:
            raise self.fail(f"has a {what} that is not UTF-8 after percent-decoding") from None

    def host(self, host: str) -> None:
        if re.fullmatch(r"[0-9.]+", host):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise self.fail(
                    f'has "{host}", which is not an IPv4 address',
                    "write four decimal numbers 0-255 without leading zeros",
                ) from None
        elif not _HOSTNAME.fullmatch(host):
            raise self.fail(
                f'has "{host}", which is not a host name', "use a DNS name, an IPv4 address or [IPv6]"
            )

    def host_port(self, item: str, default_port: int) -> tuple[str, int]:
        if not item:
            raise self.fail("has an empty host", "give host:port, hosts separated by commas")
        if item.startswith("["):
            host, sep, rest = item[1:].partition("]")
            if not sep:
                raise self.fail(f'has an unclosed IPv6 bracket in "{item}"', "write [addr]:port")
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise self.fail(
                    f'has "{host}" in brackets, which is not an IPv6 address', "write [addr]:port"
                ) from None
            if rest and not rest.startswith(":"):
                raise self.fail(f'has "{rest}" after the IPv6 address', "write [addr]:port")
            port_text = rest[1:]
        else:
            host, _, port_text = item.partition(":")
            if ":" in port_text:
                raise self.fail(
                    f'has host "{item}" with several colons', "put IPv6 addresses in brackets: [addr]:port"
                )
            self.host(host)
        if item.endswith(":"):
            raise self.fail(f'has an empty port after "{host}"', "write host:port or leave out the colon")
        if port_text == "":
            return host, default_port
        if not _DIGITS.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
            raise self.fail(f'has port "{port_text}", which is not a number 1-65535', "write host:port")
        return host, int(port_text)

    def auth(self, netloc: str) -> tuple[str, str, str]:
        """(user, password, rest of netloc)."""
        if "@" not in netloc:
            return "", "", netloc
        auth, _, netloc = netloc.rpartition("@")
        user_raw, colon, pass_raw = auth.partition(":")
        username = self.unquote(user_raw, "user name")
        password = self.unquote(pass_raw, "password")
        if colon and not password:
            raise self.fail("has an empty password after ':'", "give user:password@ or leave out the colon")
        return username, password, netloc

    def path(self, scheme: str, slash: str, path: str) -> tuple[int, str]:
        """(db, master name)."""
        if scheme == "redis+sentinel":
            if not slash or not path:
                raise self.fail("has no master name", "write redis+sentinel://host:port[,...]/master-name")
            if not _MASTER.fullmatch(path):
                raise self.fail(
                    f'has master name "{path}", which is not a Sentinel master name',
                    "use letters, digits, '.', '_' and '-'",
                )
            return 0, path
        if not path:
            return 0, ""
        if not _DIGITS.fullmatch(path):
            raise self.fail(
                f'has database "{path}", which is not a number', "write /0, /1, ... or leave it out"
            )
        db = int(path)
        if scheme == "redis+cluster" and db != 0:
            raise self.fail(
                f"asks for database {db}, but Redis Cluster has only database 0", "leave out the /db part"
            )
        if db > 65535:
            raise self.fail(
                f"asks for database {db}", "use a database Redis is configured for (0-15 by default)"
            )
        return db, ""

    def scheme(self) -> tuple[str, str]:
        text = self.text
        if len(text) > 4096:
            raise InvalidInput(
                self.field,
                redact(text[:100]),
                f"is {len(text)} characters long",
                "a store URL is at most 4096",
            )
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
            raise self.fail("contains whitespace or control characters", "remove them")
        scheme, sep, rest = text.partition("://")
        if not sep:
            raise self.fail('has no scheme (no "://")')
        if scheme.lower() not in SCHEMES:
            raise self.fail(f'has unknown scheme "{scheme}"')
        for ch, what in (("?", "query string"), ("#", "fragment")):
            if ch in rest:
                raise self.fail(
                    f'has a {what} ("{ch}..."), which fip does not read',
                    "remove it (percent-encode it inside a password); options are not taken from the URL",
                )
        return scheme.lower(), rest


def parse_store_url(text: object, field: str = "redis-url") -> StoreURL:
    """Parse a store URL strictly; raises InvalidInput naming the exact problem."""
    if not isinstance(text, str):
        raise InvalidInput(field, text, "is not a URL", _FORMS)
    if not text:
        raise InvalidInput(field, text, "is empty", _FORMS)
    p = _Parse(field, text)
    scheme, rest = p.scheme()
    if scheme == "memory":
        if not _MEMNAME.fullmatch(rest):
            raise p.fail(f'has memory store name "{rest}"', "use memory:// or memory://NAME with [a-z0-9-]")
        return StoreURL("memory", name=rest)
    netloc, slash, path = rest.partition("/")
    username, password, netloc = p.auth(netloc)
    if not netloc:
        raise p.fail("has no host", "write the host (and port) after ://")
    items = netloc.split(",")
    if len(items) > 1 and scheme in ("redis", "rediss"):
        raise p.fail(
            f"names {len(items)} hosts, but {scheme}:// takes one",
            "for several use redis+cluster:// or redis+sentinel://",
        )
    default_port = 26379 if scheme == "redis+sentinel" else 6379
    hosts = tuple(p.host_port(it, default_port) for it in items)
    if len(set(hosts)) != len(hosts):
        raise p.fail("names the same host:port twice", "list each host once")
    db, master = p.path(scheme, slash, path)
    return StoreURL(scheme, hosts, db, username, password, master)
