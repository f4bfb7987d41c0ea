"""fipd's command line: arguments and the per-node mode / parent NIC taken from the Node."""

from __future__ import annotations

import pytest

from fip.core.errors import InvalidInput
from fipd.cli import node_settings, parse_args


def node(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"name": "n1", "labels": labels, "annotations": annotations}}


def test_flags_win_over_the_node() -> None:
    args = parse_args(["--node", "n1", "--mode", "bridge", "--parent", "eth0"])
    node_settings(args, node({"fip.io/mode": "macvlan"}, {"fip.io/parent": "ens3"}))
    assert (args.mode, args.parent) == ("bridge", "eth0")


def test_mode_and_parent_from_the_node() -> None:
    args = parse_args(["--node", "n1"])
    node_settings(args, node({"fip.io/mode": "macvlan"}, {"fip.io/parent": "ens3"}))
    assert (args.mode, args.parent) == ("macvlan", "ens3")
    assert str(args.socket) == "/run/fip/fipd.sock"
    assert str(args.state_dir) == "/run/fip/containers"


@pytest.mark.parametrize(
    ("labels", "annotations", "text"),
    [({}, {"fip.io/parent": "eth0"}, "fip.io/mode"), ({"fip.io/mode": "ipvlan"}, {}, "not a datapath mode"),
     ({"fip.io/mode": "bridge"}, {}, "fip.io/parent")],
)  # fmt: skip
def test_missing_node_settings_say_what_to_set(
    labels: dict[str, str], annotations: dict[str, str], text: str
) -> None:
    with pytest.raises(InvalidInput, match=text):
        node_settings(parse_args(["--node", "n1"]), node(labels, annotations))


def test_node_name_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NODE_NAME", raising=False)
    with pytest.raises(SystemExit):
        parse_args(["--mode", "bridge"])
