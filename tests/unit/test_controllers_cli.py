"""fip-controllers' command line: defaults, and bad flags refused with exit 2 and a message that
names the flag (no traceback)."""

from __future__ import annotations

import pytest

from controllers.cli import main, parse_args


def test_defaults_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIP_REDIS_URL", "redis://r:6379/0")
    monkeypatch.setenv("POD_NAMESPACE", "fip-system")
    a = parse_args([])
    assert (a.redis_url, a.reconcile_period, a.grace, a.listen, a.lease_namespace) == (
        "redis://r:6379/0", 60.0, 60.0, ("0.0.0.0", 9095), "fip-system"
    )  # fmt: skip
    b = parse_args(["--redis-url", "memory://", "--listen", "[::1]:0", "--grace", "0", "--id", "me"])
    assert b.listen == ("::1", 0) and b.grace == 0.0 and b.id == "me"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--reconcile-period", "0"], "--reconcile-period"),
        (["--reconcile-period", "nan"], "--reconcile-period"),
        (["--grace", "-1"], "--grace"),
        (["--grace", "inf"], "--grace"),
        (["--listen", "nowhere"], "--listen"),
        (["--listen", "h:99999"], "--listen"),
        (["--lease-namespace", "Bad_NS"], "--lease-namespace"),
        (["--lease-duration", "0.5"], "--lease-duration"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIP_REDIS_URL", "redis://r:6379/0")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_missing_store_url(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIP_REDIS_URL", raising=False)
    assert main([]) == 2
    assert "--redis-url" in capsys.readouterr().err
