"""Fuzzing fipctl's parsers of outside input: argv, manifests, operands.

Whatever is typed, `main` returns 0, 1 or 2 with a message and never raises or prints a
traceback or an "internal error" (which would mean an exception nobody turned into a message).
"""

from __future__ import annotations

import io

import yaml
from fipctl_harness import TtyInput, fipctl, loaded_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fip.cli.fipctl import main
from fip.cli.manifest import load_manifest
from fip.cli.operands import parse_ip, parse_owner, parse_subnet_name
from fip.core.errors import FipError
from fip.store.url import parse_store_url

TOKENS = [
    "subnets",
    "apply",
    "ips",
    "release",
    "init",
    "-f",
    "-",
    "--filename",
    "--subnet",
    "--owner",
    "--yes",
    "-y",
    "-o",
    "json",
    "table",
    "yaml",
    "--redis-url",
    "--debug",
    "--help",
    "dc1-a",
    "dc1-b",
    "192.0.2.10",
    "192.0.2.11",
    "2001:db8:1::100",
    "default/StatefulSet/web/0",
    "default/StatefulSet/web",
    "default/Deployment/api",
    "10.0.0.0/8",
    "",
    "--",
    "-x",
]

argv_strategy = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=20)), max_size=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=argv_strategy, answer=st.sampled_from(["", "y\n", "n\n", "yes\n", "\x00\n"]), tty=st.booleans())
def test_any_argv_ends_in_a_message_and_an_exit_code(argv: list[str], answer: str, tty: bool) -> None:
    if "-f" in argv or "--filename" in argv:  # never read files the fuzzer names, only stdin
        argv = [a for a in argv if a not in ("-f", "--filename")] + ["-f", "-"]
    store = loaded_store()
    stdin = TtyInput(answer) if tty else io.StringIO(answer)
    res = fipctl(store, *argv, stdin=stdin)
    assert res.code in (0, 1, 2), (argv, res)
    assert "Traceback" not in res.err or "--debug" in argv
    assert "internal error" not in res.err, (argv, res.err)
    if res.code != 0:
        assert res.err.strip(), argv


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_manifest_parses_or_is_refused(text: str) -> None:
    try:
        load_manifest(text, "fuzz.yaml")
    except FipError as err:
        assert str(err)


values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True),
        st.sampled_from(
            ["192.0.2.0/24", "192.0.2.1", "2001:db8::/64", "10.0.0.1-10.0.0.9", "dc1-a", "fip.io/v1"]
        ),
        st.text(max_size=12),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
spec_keys = st.sampled_from(
    [
        "cidr",
        "gateway",
        "vlan",
        "ranges",
        "excluded",
        "reserved",
        "nodeSelector",
        "nodeCIDRs",
        "subnet",
        "size",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["Subnet", "Pool", "Other"]),
    name=st.one_of(st.sampled_from(["dc1-a", "x"]), st.text(max_size=8)),
    spec=st.dictionaries(spec_keys, values, max_size=6),
)
def test_resource_shaped_manifests_parse_or_are_refused(
    kind: str, name: str, spec: dict[str, object]
) -> None:
    doc = {"apiVersion": "fip.io/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    text = yaml.safe_dump(doc)
    try:
        manifest = load_manifest(text, "fuzz.yaml")
    except FipError as err:
        assert str(err)
    else:
        assert len(manifest.subnets) + len(manifest.pools) == 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_operands_parse_or_are_refused(text: str) -> None:
    for parse in (parse_ip, parse_owner, parse_subnet_name):
        try:
            parse("arg", text)
        except FipError as err:
            assert str(err).startswith("arg: ")


URL_TOKENS = [
    "redis://",
    "rediss://",
    "redis+cluster://",
    "redis+sentinel://",
    "memory://",
    "127.0.0.1",
    ":",
    "/",
    "@",
    ",",
]


@settings(max_examples=300, deadline=None)
@given(
    url=st.one_of(st.text(max_size=40), st.lists(st.sampled_from(URL_TOKENS), max_size=6).map("".join)),
    via_env=st.booleans(),
)
def test_any_store_url_is_parsed_or_refused_as_usage(url: str, via_env: bool) -> None:
    """The real URL parser runs (no connection is made: the store handed back is in memory)."""
    store = loaded_store()
    out, err = io.StringIO(), io.StringIO()
    # `--redis-url=URL`: a value starting with "-" is otherwise read by argparse as an option.
    argv = ["subnets"] if via_env else [f"--redis-url={url}", "subnets"]
    code = main(
        argv,
        environ={"FIP_REDIS_URL": url} if via_env else {},
        stdin=io.StringIO(""),
        stdout=out,
        stderr=err,
        opener=lambda u, field: (parse_store_url(u, field), store)[1],
    )
    assert code in (0, 2), (url, err.getvalue())
    if code == 2:
        assert err.getvalue().startswith("fipctl: error: ")
        assert ("FIP_REDIS_URL" if via_env else "--redis-url") in err.getvalue()
        assert "Traceback" not in err.getvalue()
