"""Pure parts of bridge/: pod MACs, announcement frames, interface names, the undo stack, the factory."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import make_driver
from bridge.garp import arp_announcement, neighbour_advertisement
from bridge.mac import mac_bytes, pod_mac
from bridge.names import IFNAMSIZ, host_bridge, host_veth, staging, vlan_parent
from bridge.undo import UndoStack
from fip.core.errors import InvalidInput


def test_pod_mac_follows_the_reference_plugins() -> None:
    assert pod_mac(IPv4Address("10.0.1.17")) == "0a:58:0a:00:01:11"
    assert pod_mac(IPv6Address("fd00::a:b")) == "0a:58:00:0a:00:0b"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_pod_mac_is_unicast_locally_administered_and_unique_per_ipv4(n: int) -> None:
    mac = mac_bytes(pod_mac(IPv4Address(n)))
    assert mac[0] & 0x01 == 0  # unicast
    assert mac[0] & 0x02 == 2  # locally administered
    assert mac[2:] == IPv4Address(n).packed


def test_mac_bytes_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="6 colon-separated"):
        mac_bytes("0a:58:00")


def test_arp_announcement_layout() -> None:
    frame = arp_announcement(IPv4Address("10.0.1.17"), "0a:58:0a:00:01:11")
    assert len(frame) == 42
    assert frame[:6] == b"\xff" * 6
    assert frame[6:12] == bytes.fromhex("0a580a000111")
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 1)
    assert frame[28:32] == frame[38:42] == IPv4Address("10.0.1.17").packed  # sender = target IP


def test_neighbour_advertisement_layout() -> None:
    body = neighbour_advertisement(IPv6Address("fd00::11"), "0a:58:00:00:00:11")
    assert body[0] == 136
    assert struct.unpack("!I", body[4:8])[0] == 0x20000000  # override, not solicited
    assert body[8:24] == IPv6Address("fd00::11").packed
    assert body[24:26] == b"\x02\x01"
    assert body[26:] == bytes.fromhex("0a5800000011")


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=15), st.integers(1, 4094))
def test_generated_names_fit_ifnamsiz(cid: str, ifname: str, vlan: int) -> None:
    assert len(host_veth(cid, ifname)) <= IFNAMSIZ
    assert len(staging(cid, ifname)) <= IFNAMSIZ
    assert host_veth(cid, ifname) != staging(cid, ifname)
    assert len(host_bridge(vlan)) <= IFNAMSIZ
    assert len(vlan_parent("enp175s0f1np1", vlan)) <= IFNAMSIZ
    assert vlan_parent("eth1", vlan) == f"eth1.{vlan}"


def test_undo_runs_newest_first_and_reports_what_it_could_not_undo() -> None:
    done: list[str] = []
    undo = UndoStack()
    undo.push("a", lambda: done.append("a"))
    undo.push("b", lambda: 1 / 0)
    undo.push("c", lambda: done.append("c"))
    err = RuntimeError("step failed")
    undo.rollback(err)
    assert done == ["c", "a"]
    assert err.__notes__ == ["rollback: could not b: division by zero"]


def test_undo_calls_the_fault_hook_with_each_step() -> None:
    seen: list[str] = []
    undo = UndoStack(seen.append)
    undo.step("veth")
    undo.step("address")
    assert seen == ["veth", "address"]


def test_make_driver_rejects_unknown_modes() -> None:
    with pytest.raises(InvalidInput, match='mode: "ipvlan" is not a datapath mode; use one of: bridge'):
        make_driver("ipvlan", "eth0")
    with pytest.raises(InvalidInput, match="parent"):
        make_driver("bridge", "")
    assert make_driver("macvlan", "eth0").name == "macvlan"
