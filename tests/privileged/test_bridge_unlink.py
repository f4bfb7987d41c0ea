"""DEL answers when the kernel announced the pod's link gone (`bridge.unlink`): prove that at that
moment the pod really has no interface and no address, the node no veth / bridge port, and the
names are free for the next ADD — checked right after unplug returns, without any wait. Also:
a refused delete raises instead of hanging, and a watched link that the request does not remove,
or a watch that lost events, makes it wait for the kernel's acknowledgement instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.errors import NetlinkError
from bridge.netlink import Netlink
from bridge.rtnl import Rtnl
from bridge.unlink import delete_announced
from lab.topology import PodLab, single_node

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
        reason="needs root (network namespaces)",
    ),
]


@pytest.fixture(params=["bridge", "macvlan"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PodLab]:
    yield from single_node(request.param, str(tmp_path / "sys"))


@pytest.mark.parametrize("vlan", [0, 100])
def test_nothing_is_left_the_moment_unplug_returns(env: PodLab, vlan: int) -> None:
    driver = env.driver()
    pods = [env.net.add_netns(f"pod{i}") for i in range(3)]
    for i, pod_ns in enumerate(pods):
        req = env.request(pod_ns, vlan, host_octet=30 + i, cid=f"c{i}", garp_count=0)
        for _ in range(2):  # the second plug reuses the names the first unplug freed
            result = driver.plug(req)
            driver.unplug(req.container_id, req.netns_path, req.ifname, result.state)
            with Netlink(pod_ns) as pod_nl:  # no sleep: this runs right after the answer
                assert [lk.name for lk in pod_nl.links()] == ["lo"]
                assert all(a.ifname == "lo" for a in pod_nl.addresses())
            with Netlink(env.node.netns) as host:
                links = host.links()
                assert result.host_ifname is None or all(lk.name != result.host_ifname for lk in links)
                bridge = host.link(f"fipbr{vlan}")
                if bridge is not None:
                    ports = [lk.name for lk in links if lk.master == bridge.index]
                    assert not [p for p in ports if p.startswith("fip")], ports


def test_a_refused_delete_raises(env: PodLab) -> None:
    pod_ns = env.net.add_netns("pod")
    with Rtnl(pod_ns) as nl:
        lo = nl.link("lo")
    assert lo is not None
    with pytest.raises(NetlinkError, match="delete lo"):  # the kernel never deletes a loopback
        delete_announced(pod_ns, lo.index, "lo", [(pod_ns, lo.index)])
    assert delete_announced(pod_ns, 4242, "nothing", [(pod_ns, 4242)]) is False  # gone already


def test_a_link_that_is_not_announced_makes_it_wait_for_the_acknowledgement(env: PodLab) -> None:
    pod_ns = env.net.add_netns("pod")
    with Netlink(pod_ns) as nl:
        nl.add_veth("a0", "a1")
        nl.add_veth("b0", "b1")
    with Rtnl(pod_ns) as nl:
        a0, b0 = nl.link("a0"), nl.link("b0")
        assert a0 is not None and b0 is not None
        assert delete_announced(pod_ns, a0.index, "a0", [(pod_ns, b0.index)]) is True
        assert nl.link("a0") is None and nl.link("a1") is None  # deleted and acknowledged
        assert nl.link("b0") is not None  # not touched: the wait ended with the acknowledgement


def test_lost_events_fall_back_to_the_acknowledgement(env: PodLab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A watch socket that overflowed (ENOBUFS) cannot prove anything: wait for the request."""
    pod_ns = env.net.add_netns("pod")
    with Netlink(pod_ns) as nl:
        nl.add_veth("a0", "a1")

    def overflow(self: Rtnl) -> list[tuple[int, int, int]]:
        raise OSError(105, "No buffer space available")

    monkeypatch.setattr(Rtnl, "events", overflow)
    with Rtnl(pod_ns) as nl:
        a0 = nl.link("a0")
        assert a0 is not None
        assert delete_announced(pod_ns, a0.index, "a0", [(pod_ns, a0.index)]) is True
        assert nl.link("a0") is None and nl.link("a1") is None
