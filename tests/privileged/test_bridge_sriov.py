"""SR-IOV specifics, on a fake sysfs tree with veth stand-ins for VF netdevs (no SR-IOV hardware here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.errors import LinkNotFound, NetlinkError, NoFreeVF
from bridge.netlink import Netlink
from bridge.sriov import NetlinkVfControl, SriovDriver
from lab.netsnapshot import snapshot
from lab.topology import PodLab, single_node

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true", reason="needs root"),
]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[PodLab]:
    yield from single_node("sriov", str(tmp_path / "sys"))


def test_vfs_are_handed_out_in_order_until_none_is_free(env: PodLab) -> None:
    driver = env.driver()
    assert isinstance(driver, SriovDriver)
    assert driver.vf_netdevs() == {0: ["eth1v0"], 1: ["eth1v1"]}
    plugged = []
    for i in range(2):
        req = env.request(env.net.add_netns(f"pod{i}"), 100, host_octet=17 + i, cid=f"c{i}")
        plugged.append((req, driver.plug(req)))
    assert [res.state["vf"] for _, res in plugged] == ["0", "1"]
    assert env.eswitch is not None
    assert [c for c in env.eswitch.calls if c[0] == "configure"] == [
        ("configure", 0, plugged[0][1].mac, 100),
        ("configure", 1, plugged[1][1].mac, 100),
    ]
    assert env.net.ping(plugged[0][0].netns_path.rsplit("/", 1)[1], "10.0.2.18")  # VF to VF, VLAN 100

    third = env.request(env.net.add_netns("pod2"), 100, host_octet=19, cid="c2")
    before = snapshot(env.node.netns)
    with pytest.raises(NoFreeVF, match=r"PF eth1: no free VF \(2 VFs"):
        driver.plug(third)
    assert snapshot(env.node.netns).diff(before) == []

    req0, res0 = plugged[0]
    driver.unplug(req0.container_id, req0.netns_path, req0.ifname, res0.state)
    again = driver.plug(third)
    assert again.state["vf"] == "0"  # the returned VF is free again


def test_a_pf_without_vfs_is_reported_plainly(env: PodLab, tmp_path: Path) -> None:
    driver = SriovDriver("eth1", host_netns=env.node.netns, sysfs_root=str(tmp_path / "empty"))
    with pytest.raises(LinkNotFound, match="SR-IOV capable PF"):
        driver.plug(env.request(env.net.add_netns("pod"), 0))


def test_the_real_vf_control_needs_an_sriov_nic(env: PodLab) -> None:
    """On a veth "PF" the kernel refuses VF programming; the error says what was attempted."""
    with pytest.raises(NetlinkError, match=r"configure eth1 vf 0 .*not supported"):
        NetlinkVfControl(env.node.netns).configure("eth1", 0, "0a:58:0a:00:01:11", 100)
    with Netlink(env.node.netns) as nl:
        assert nl.link("eth1") is not None
