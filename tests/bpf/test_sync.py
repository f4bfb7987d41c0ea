"""bpf.sync against the lab API server and the real maps: Services and EndpointSlices created
through the Kubernetes API reach a macvlan pod's datapath; changes land within a second; a
restarted sync writes nothing (ids kept) and drops no connection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from svcobjects import endpoints, service
from test_tc import HTTP, TARGET, attach, curl, start_download

from bpf.loader import Datapath
from bpf.sync import ServiceSync
from fip.kube.client import KubeClient
from fip.kube.errors import Invalid
from fip.kube.resources import ENDPOINTSLICES, SERVICES
from lab.apiserver.server import APIServer
from lab.servicelab import ServiceLab


@pytest.fixture
def kube() -> Iterator[KubeClient]:
    with APIServer(port=0) as api:
        client = KubeClient.for_server(api.url)
        yield client
        client.close()


def slice_obj(name: str, ips: list[str]) -> dict[str, Any]:
    body = endpoints(name, ips, TARGET)
    body.update({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice"})
    return body


def svc_obj(name: str, vip: str) -> dict[str, Any]:
    body = service(name, vip, HTTP)
    body.update({"apiVersion": "v1", "kind": "Service"})
    body["spec"]["ports"][0]["targetPort"] = 8080
    return body


def backends(dp: Datapath) -> set[str]:
    state = dp.maps.read()
    ids = {e.id for fe, e in state.services.items() if str(fe.vip) == "10.96.0.10"}
    return {str(a.ip) for (fid, _), a in state.backends.items() if fid in ids}


def until(check: Any, timeout: float = 1.0) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "not within the deadline"
        time.sleep(0.02)
    return time.monotonic() - started


def test_api_objects_drive_the_datapath(datapath: Datapath, lab: ServiceLab, kube: KubeClient) -> None:
    client, old, new = lab.pod("client", "n1", 17), lab.pod("old", "n2", 19), lab.pod("new", "n1", 20)
    lab.serve(old)
    lab.serve(new)
    attach(datapath, client)
    kube.create(SERVICES, svc_obj("web", "10.96.0.10"))
    kube.create(ENDPOINTSLICES, slice_obj("web", ["10.0.1.19"]))
    sync = ServiceSync.for_client(kube, datapath.maps, datapath.settings.limits).start()
    try:
        assert sync.synced.wait(10)
        assert curl(lab, client, "http://10.96.0.10/") == "old"
        assert any("default/kubernetes" in p for p in sync.status()["problems"])  # no endpoints: logged

        download = start_download(lab, client, 16 * 1024 * 1024)
        time.sleep(0.5)
        current = kube.get(ENDPOINTSLICES, "web-abc", "default")
        current["endpoints"] = [
            {"addresses": ["10.0.1.20"], "conditions": {"ready": True}},
            {"addresses": ["10.0.1.19"], "conditions": {"ready": False, "terminating": True}},
        ]
        kube.update(ENDPOINTSLICES, current)
        until(lambda: backends(datapath) == {"10.0.1.20"})  # in the maps within a second
        assert lab.probe(client, "http", ["10.96.0.10:80"] * 3) == ["new"] * 3
        out, err = download.communicate(timeout=30)
        assert download.returncode == 0 and int(out) == 16 * 1024 * 1024, err  # the old backend drained

        kube.delete(SERVICES, "web", "default")
        until(lambda: "10.96.0.10" not in {str(fe.vip) for fe in datapath.maps.read().services})
        assert lab.probe(client, "http", ["10.96.0.10:80"])[0].startswith("ERR")
    finally:
        sync.stop()


def test_restarted_sync_writes_nothing_and_keeps_connections(
    datapath: Datapath, lab: ServiceLab, kube: KubeClient
) -> None:
    client, web = lab.pod("client", "n1", 17), lab.pod("web", "n2", 19)
    lab.serve(web)
    attach(datapath, client)
    for i in range(20):
        kube.create(SERVICES, svc_obj(f"s{i}", f"10.96.1.{i + 1}"))
        kube.create(ENDPOINTSLICES, slice_obj(f"s{i}", ["10.0.1.19"]))
    first = ServiceSync.for_client(kube, datapath.maps, datapath.settings.limits).start()
    assert first.synced.wait(10)
    before = datapath.maps.read()
    download = lab.popen(
        client,
        [
            "curl",
            "-sS",
            "--max-time",
            "30",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            "http://10.96.1.5/big/8000000?rate=8000000",
        ],
    )
    time.sleep(0.3)
    first.stop()
    second = ServiceSync.for_client(kube, datapath.maps, datapath.settings.limits)
    try:
        second.services.start()
        second.slices.start()
        assert second.services.synced.wait(10) and second.slices.synced.wait(10)
        assert second.sync_once() == 0  # the pinned maps already hold it all, ids included
        assert datapath.maps.read() == before
    finally:
        second.stop()
    out, err = download.communicate(timeout=30)
    assert download.returncode == 0 and int(out) == 8000000, err


def test_the_api_refuses_what_the_datapath_cannot_take(kube: KubeClient) -> None:
    bad = svc_obj("bad", "10.96.0.30")
    bad["spec"]["ports"][0]["protocol"] = "ICMP"
    with pytest.raises(Invalid, match="protocol"):
        kube.create(SERVICES, bad)
    wrong = slice_obj("web", ["fd00::1"])
    with pytest.raises(Invalid, match="IPv4"):
        kube.create(ENDPOINTSLICES, wrong)
