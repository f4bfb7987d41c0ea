"""Shared test configuration.

In CI (`CI=true`, root) a skipped test is a failure: a tier that did not run did not pass.

After each module the freed heap goes back to the kernel (`malloc_trim`): a module that held
100,000 pods in this process (tests/e2e/test_apiserver_scale.py) left ~560 MB resident once its
objects were gone, and every later fork (pyroute2 enters a network namespace in a forked child)
copied those page tables: that module followed by tests/privileged/test_bridge_rollback.py took
40-52 s, and 29 s with the trim (RSS 556 -> 125 MB; the rollback module alone takes 14 s).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from collections.abc import Generator

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Once a module's last test is torn down (and pytest dropped its fixture values), the freed
    heap goes back to the kernel."""
    result = yield
    if getattr(nextitem, "module", None) is not getattr(item, "module", None):
        gc.collect()
        _LIBC.malloc_trim(0)
    return result


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not IN_CI:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; skipped is not passed", red=True)
        for rep in skipped:
            reporter.write_line(f"  skipped: {rep.nodeid}: {rep.longrepr}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options of the real-cluster e2e tests (tests/e2e/test_system_cluster.py)."""
    parser.addoption("--kubeconfig", default=None, help="run the e2e suite against this real cluster too")
    parser.addoption("--redis-url", default=None, help="the real cluster's fip store, for fipctl checks")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_cluster: needs a real cluster (--kubeconfig); never collected in CI"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --kubeconfig the real-cluster tests skip; in CI (no cluster there, and a skip
    fails the run) they are deselected instead."""
    if not IN_CI or config.getoption("--kubeconfig"):
        return
    kept = [i for i in items if i.get_closest_marker("real_cluster") is None]
    config.hook.pytest_deselected(items=[i for i in items if i not in kept])
    items[:] = kept
