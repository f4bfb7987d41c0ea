"""fipd.cnispec: the CNI 1.0 request parser shared by fip-cni and fipd (codes per the spec)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fipd import cnispec
from fipd.cnispec import CNIError, parse_request

CONF = {"cniVersion": "1.0.0", "name": "fip", "type": "fip-cni"}
ARGS = (
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;"
    "K8S_POD_UID=u-1"
)


def env(**over: str) -> dict[str, str]:
    base = {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "3f2a9c0d1e",
        "CNI_NETNS": "/var/run/netns/cni-1234",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/opt/cni/bin",
        "CNI_ARGS": ARGS,
    }
    base.update(over)
    return {k: v for k, v in base.items() if v != "<unset>"}


def code_of(e: dict[str, str], stdin: bytes | str) -> int:
    with pytest.raises(CNIError) as info:
        parse_request(e, stdin)
    return info.value.code


def test_containerd_add_parses() -> None:
    req = parse_request(env(), json.dumps(CONF).encode())
    assert req.command == "ADD"
    assert req.container_id == "3f2a9c0d1e"
    assert req.args["K8S_POD_NAME"] == "web-0"
    assert req.args["K8S_POD_UID"] == "u-1"
    assert req.socket == cnispec.DEFAULT_SOCKET
    assert req.timeout == 60.0


@pytest.mark.parametrize("version", cnispec.SUPPORTED_VERSIONS)
def test_supported_versions_parse(version: str) -> None:
    assert parse_request(env(), json.dumps({**CONF, "cniVersion": version})).cni_version == version


def test_version_needs_no_environment() -> None:
    req = parse_request({"CNI_COMMAND": "VERSION"}, b'{"cniVersion":"1.0.0"}')
    assert cnispec.version_result(req.cni_version)["supportedVersions"] == list(cnispec.SUPPORTED_VERSIONS)
    assert parse_request({"CNI_COMMAND": "VERSION"}, b"").command == "VERSION"


@pytest.mark.parametrize(
    ("stdin", "code"),
    [
        (b"", 6),
        (b"{", 6),
        (b"[]", 6),
        (b'{"cniVersion":"1.0.0"} trailing', 6),
        (b"\xff\xfe", 6),
        (b'{"cniVersion": NaN}', 6),
        (b'{"name":"fip","type":"fip-cni"}', 7),
        (b'{"cniVersion":"9.9.9","name":"fip","type":"fip-cni"}', 1),
        (b'{"cniVersion":"0.2.0","name":"fip","type":"fip-cni"}', 1),
        (b'{"cniVersion":"1.0.0","type":"fip-cni"}', 7),
        (b'{"cniVersion":"1.0.0","name":"fip","type":"../../bin/sh"}', 7),
        (b'{"cniVersion":"1.0.0","name":"fip","type":"fip-cni","socket":"relative.sock"}', 7),
        (b'{"cniVersion":"1.0.0","name":"fip","type":"fip-cni","timeout":0}', 7),
        (b'{"cniVersion":"1.0.0","name":"fip","type":"fip-cni","prevResult":[1]}', 6),
    ],
)
def test_bad_stdin_codes(stdin: bytes, code: int) -> None:
    assert code_of(env(), stdin) == code


@pytest.mark.parametrize(
    ("over", "code", "text"),
    [
        ({"CNI_COMMAND": "<unset>"}, 4, "CNI_COMMAND"),
        ({"CNI_COMMAND": "UPDATE"}, 4, "unknown CNI_COMMAND"),
        ({"CNI_CONTAINERID": "<unset>"}, 4, "CNI_CONTAINERID"),
        ({"CNI_NETNS": "<unset>"}, 4, "CNI_NETNS"),
        ({"CNI_IFNAME": "<unset>", "CNI_PATH": "<unset>"}, 4, "CNI_IFNAME,CNI_PATH"),
        ({"CNI_CONTAINERID": "../../etc"}, 4, "invalid characters in containerID"),
        ({"CNI_CONTAINERID": "abc/def"}, 4, "invalid characters"),
        ({"CNI_CONTAINERID": ".."}, 4, "invalid characters"),
        ({"CNI_CONTAINERID": "a\x00b"}, 4, "invalid characters"),
        ({"CNI_IFNAME": "eth0/x"}, 4, "interface name"),
        ({"CNI_IFNAME": "a-very-long-interface"}, 4, "too long"),
        ({"CNI_NETNS": "netns/relative"}, 4, "absolute"),
        ({"CNI_NETNS": "/var/run/netns/../../etc"}, 4, "absolute"),
        ({"CNI_ARGS": "K8S_POD_NAMESPACE=default"}, 4, "K8S_POD_NAME"),
        ({"CNI_ARGS": "garbage"}, 4, "KEY=VALUE"),
    ],
)
def test_bad_environment_codes(over: dict[str, str], code: int, text: str) -> None:
    with pytest.raises(CNIError) as info:
        parse_request(env(**over), json.dumps(CONF))
    assert info.value.code == code
    assert text in str(info.value)


def test_cni_args_tolerate_empty_segments_and_equals_in_values() -> None:
    req = parse_request(
        env(CNI_ARGS="K8S_POD_NAMESPACE=default;;K8S_POD_NAME=web-0;X=a=b;"), json.dumps(CONF)
    )
    assert req.args == {"K8S_POD_NAMESPACE": "default", "K8S_POD_NAME": "web-0", "X": "a=b"}


def test_del_needs_no_netns_nor_pod() -> None:
    req = parse_request(env(CNI_COMMAND="DEL", CNI_NETNS="<unset>", CNI_ARGS="<unset>"), json.dumps(CONF))
    assert req.netns == ""
    assert req.args == {}


def test_check_needs_040() -> None:
    stdin = json.dumps({**CONF, "cniVersion": "0.3.1"})
    assert code_of(env(CNI_COMMAND="CHECK"), stdin) == 1
    assert (
        parse_request(env(CNI_COMMAND="CHECK"), json.dumps({**CONF, "cniVersion": "0.4.0"})).command
        == "CHECK"
    )


def test_missing_netns_is_unknown_container(tmp_path: object) -> None:
    with pytest.raises(CNIError) as info:
        cnispec.require_netns("/var/run/netns/fiptest-does-not-exist")
    assert info.value.code == 3
    assert "does not exist" in info.value.msg


def test_error_json_shape() -> None:
    err = CNIError(11, "fipd is not running", "check it")
    assert err.to_json("0.4.0") == {
        "cniVersion": "0.4.0",
        "code": 11,
        "msg": "fipd is not running",
        "details": "check it",
    }


def test_codec_round_trip() -> None:
    value = {"a": [1, 2.5, None, True, "é\n"], "b": {"c": ""}}
    assert cnispec.loads(cnispec.dumps(value)) == value
    assert json.loads(cnispec.dumps(value)) == value


@settings(max_examples=400, deadline=None)
@given(
    stdin=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
    command=st.sampled_from(["ADD", "DEL", "CHECK", "VERSION", "", "add"]),
    values=st.fixed_dictionaries(
        {
            "CNI_CONTAINERID": st.text(max_size=20),
            "CNI_IFNAME": st.text(max_size=20),
            "CNI_NETNS": st.text(max_size=30),
            "CNI_ARGS": st.text(max_size=60),
        }
    ),
)
def test_fuzz_raw_input_only_raises_cni_errors(stdin: bytes, command: str, values: dict[str, str]) -> None:
    e = {"CNI_COMMAND": command, "CNI_PATH": "/opt/cni/bin", **values}
    try:
        req = parse_request(e, stdin)
    except CNIError as err:
        assert err.code in (1, 2, 3, 4, 6, 7)
        assert err.msg
        return
    if req.command != "VERSION":
        assert "/" not in req.container_id and req.container_id not in ("", ".", "..")
        assert "/" not in req.ifname


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    extra=st.dictionaries(
        st.sampled_from(["cniVersion", "name", "type", "socket", "timeout", "prevResult", "x"]), json_values
    )
)
def test_fuzz_structured_config(extra: dict[str, object]) -> None:
    stdin = json.dumps({**CONF, **extra})
    try:
        req = parse_request(env(), stdin)
    except CNIError as err:
        assert err.code in (1, 6, 7)
        return
    assert req.cni_version in cnispec.SUPPORTED_VERSIONS
    assert req.socket.startswith("/")
    assert 0 < req.timeout <= 600
