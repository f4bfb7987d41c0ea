"""bpf.sync with stand-ins for the informers and the maps (no kernel, no API server): the first
pass starts from what the maps hold, later passes write only differences, a refused write makes
the next pass re-read the maps, problems are logged once; bpf.hook without a datapath plugs
nothing and says why."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from bpf.errors import MapFull
from bpf.hook import ClusterIP
from bpf.maps import Limits, MapName, MapState
from bpf.sync import ServiceSync


class FakeInformer:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.synced = threading.Event()
        self.synced.set()
        self._items = items
        self.handlers: list[Any] = []

    def add_handler(self, handler: Any) -> None:
        self.handlers.append(handler)

    def items(self) -> list[dict[str, Any]]:
        return list(self._items)

    def start(self) -> FakeInformer:
        return self

    def stop(self, timeout: float = 5.0) -> None:
        pass


class FakeMaps:
    def __init__(self) -> None:
        self.state = MapState()
        self.writes = 0
        self.reads = 0
        self.fail_next = False

    def read(self) -> MapState:
        self.reads += 1
        return MapState(dict(self.state.services), dict(self.state.backends), dict(self.state.revnat))

    def put(self, name: MapName, key: Any, value: Any) -> None:
        if self.fail_next:
            self.fail_next = False
            raise MapFull(f"map {name} is full")
        self.writes += 1
        getattr(self.state, name)[key] = value

    def delete(self, name: MapName, key: Any) -> None:
        self.writes += 1
        del getattr(self.state, name)[key]


def svc(name: str, vip: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name},
        "spec": {"clusterIP": vip, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
    }


def eps(name: str, ips: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": f"{name}-1", "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip]} for ip in ips],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def test_passes_write_differences_only_and_recover_from_a_refused_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    services, slices = (
        FakeInformer([svc("a", "10.96.0.1"), svc("b", "10.96.0.2")]),
        FakeInformer([eps("a", ["10.0.0.1"])]),
    )
    maps = FakeMaps()
    sync = ServiceSync(maps, Limits(), services, slices)
    caplog.set_level(logging.INFO, logger="bpf.sync")
    assert sync.sync_once() == 5  # 2 frontends, 1 backend, 2 reverse NAT entries
    assert maps.reads == 1 and sync.synced.is_set()
    assert sync.sync_once() == 0 and maps.reads == 1  # from what it wrote, not a re-read
    assert sum("ns/b: port 80/TCP has no ready endpoints" in r.message for r in caplog.records) == 1

    slices._items = [eps("a", ["10.0.0.1", "10.0.0.2"]), eps("b", ["10.0.0.3"])]
    maps.fail_next = True
    with pytest.raises(MapFull):
        sync.sync_once()
    assert sync.sync_once() > 0 and maps.reads == 2  # the failed pass left the maps unknown: re-read
    assert sync.sync_once() == 0
    assert {(fid, slot) for fid, slot in maps.state.backends} == {(1, 1), (1, 2), (2, 1)}
    assert any("resolved: service ns/b" in r.message for r in caplog.records)
    assert sync.status()["problems"] == [] and sync.status()["frontends"] == 2


def test_restart_keeps_ids_from_the_maps() -> None:
    maps = FakeMaps()
    first = ServiceSync(
        maps,
        Limits(),
        FakeInformer([svc("a", "10.96.0.1"), svc("b", "10.96.0.2")]),
        FakeInformer([eps("a", ["10.0.0.1"]), eps("b", ["10.0.0.2"])]),
    )
    first.sync_once()
    ids = {str(fe.vip): e.id for fe, e in maps.state.services.items()}
    again = ServiceSync(
        maps,
        Limits(),
        FakeInformer([svc("b", "10.96.0.2"), svc("c", "10.96.0.3")]),
        FakeInformer([eps("b", ["10.0.0.2"]), eps("c", ["10.0.0.3"])]),
    )
    again.sync_once()
    now = {str(fe.vip): e.id for fe, e in maps.state.services.items()}
    assert now["10.96.0.2"] == ids["10.96.0.2"]  # kept: its connections are not re-balanced
    assert now["10.96.0.3"] == ids["10.96.0.1"]  # a freed id is reused
    assert "10.96.0.1" not in now


def test_hook_without_a_datapath_plugs_nothing_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    hook = ClusterIP("tc", reason="no kernel headers at /lib/modules/x/build")
    assert not hook.available
    assert hook.plugged("/var/run/netns/x", "eth0", "macvlan", "ns/pod") is False
    assert "pod ns/pod: ClusterIP unavailable for this pod: no kernel headers" in caplog.text
    assert hook.status()["unavailable_pods"] == 1
    hook.unplugged("/var/run/netns/x", "eth0")
    assert hook.status()["unavailable_pods"] == 0
    assert hook.plugged("/var/run/netns/y", "eth0", "bridge", "ns/b") is False  # not served: no line
    assert "ns/b" not in caplog.text
    off = ClusterIP("off")
    assert off.plugged("/var/run/netns/x", "eth0", "macvlan", "ns/pod") is False
