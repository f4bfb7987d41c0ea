"""Store URLs are outside input: every form parses exactly, garbage gets a precise message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fip.core.errors import InvalidInput
from fip.store.url import StoreURL, parse_store_url

GOOD = [
    ("memory://", StoreURL("memory")),
    ("memory://lab-1", StoreURL("memory", name="lab-1")),
    ("redis://127.0.0.1:7000/3", StoreURL("redis", (("127.0.0.1", 7000),), db=3)),
    ("redis://redis.fip-system.svc", StoreURL("redis", (("redis.fip-system.svc", 6379),))),
    ("REDIS://h:1", StoreURL("redis", (("h", 1),))),
    ("rediss://u:p%40ss@[::1]:6380/0", StoreURL("rediss", (("::1", 6380),), 0, "u", "p@ss")),
    ("redis://:secret@h:6379", StoreURL("redis", (("h", 6379),), password="secret")),
    (
        "redis+cluster://10.0.0.1:7000,10.0.0.2:7001",
        StoreURL("redis+cluster", (("10.0.0.1", 7000), ("10.0.0.2", 7001))),
    ),
    ("redis+cluster://h:7000/0", StoreURL("redis+cluster", (("h", 7000),))),
    (
        "redis+sentinel://s1,s2:26380/mymaster",
        StoreURL("redis+sentinel", (("s1", 26379), ("s2", 26380)), master="mymaster"),
    ),
]

BAD = [
    ("", "is empty"),
    ("localhost:6379", 'has no scheme (no "://")'),
    ("http://h:80", 'has unknown scheme "http"'),
    ("redis://", "has no host"),
    ("redis://h:0", 'has port "0", which is not a number 1-65535'),
    ("redis://h:65536", 'has port "65536"'),
    ("redis://h:63x", 'has port "63x"'),
    ("redis://h:", 'has an empty port after "h"'),
    ("redis://h/x", 'has database "x", which is not a number'),
    ("redis://h/01", 'has database "01"'),
    ("redis://a:1,b:2", "names 2 hosts, but redis:// takes one"),
    ("redis+cluster://a:1,a:1", "names the same host:port twice"),
    ("redis+cluster://a:1/2", "Redis Cluster has only database 0"),
    ("redis+sentinel://s:1", "has no master name"),
    ("redis+sentinel://s:1/bad name", "contains whitespace"),
    ("redis+sentinel://s:1/-x", 'has master name "-x"'),
    ("redis://010.0.0.1:1", 'has "010.0.0.1", which is not an IPv4 address'),
    ("redis://300.1.1.1", 'has "300.1.1.1", which is not an IPv4 address'),
    ("redis://::1:6379", "with several colons"),
    ("redis://[::1", "unclosed IPv6 bracket"),
    ("redis://[zz]:1", 'has "zz" in brackets, which is not an IPv6 address'),
    ("redis://[::1]x", 'has "x" after the IPv6 address'),
    ("redis://h_x:1", 'has "h_x", which is not a host name'),
    ("redis://h:1/0?ssl=true", "has a query string"),
    ("redis://h:1#frag", "has a fragment"),
    ("redis://u:@h", "has an empty password after ':'"),
    ("redis://u:p%zz@h", "bad percent-escape in the password"),
    ("redis+cluster://h,", "has an empty host"),
    ("memory://Upper", 'has memory store name "Upper"'),
    ("redis://h:1/99999", "asks for database 99999"),
]


@pytest.mark.parametrize(("text", "want"), GOOD)
def test_good_urls(text: str, want: StoreURL) -> None:
    assert parse_store_url(text) == want


@pytest.mark.parametrize(("text", "problem"), BAD)
def test_bad_urls_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_store_url(text, "--redis-url")
    assert problem in str(err.value)
    assert str(err.value).startswith("--redis-url: ")


def test_messages_and_redacted_form_never_show_the_password() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_store_url("redis://admin:hunter2@h:99999")
    assert "hunter2" not in str(err.value)
    assert "admin:***@" in str(err.value)
    url = parse_store_url("redis://admin:hunter2@h:1/2")
    assert url.redacted() == "redis://admin:***@h:1/2"
    assert "hunter2" not in parse_store_url("redis+sentinel://:hunter2@[::1]:5/m").redacted()


def test_not_a_string() -> None:
    with pytest.raises(InvalidInput, match="is not a URL"):
        parse_store_url(6379)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60), st.from_regex(r"(redis|rediss|redis\+cluster|redis\+sentinel|memory)://.{0,40}")
    )
)
def test_fuzz_only_parses_or_raises_invalid_input(text: str) -> None:
    try:
        url = parse_store_url(text)
    except InvalidInput as e:
        assert str(e)
        return
    assert url.scheme in ("memory", "redis", "rediss", "redis+cluster", "redis+sentinel")
    assert all(0 < port < 65536 for _, port in url.hosts)
    if not (url.username or url.password):
        assert parse_store_url(url.redacted()) == url
