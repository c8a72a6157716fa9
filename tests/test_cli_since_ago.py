"""`--since 2h`: a duration back from now, as `kubectl logs --since` takes one. Every time
option wanted an RFC 3339 timestamp typed out, and `2h` was 'not an RFC 3339 timestamp'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.dashboard.demo import build_demo_store
from gapwatch.recorder.cliutil import time_option

NOW = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "back"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1.5h", 5400), ("7d", 7 * 86400), ("1w", 604800)],
)
def test_a_duration_is_that_long_before_now(value: str, back: float) -> None:
    assert time_option(value, "--since", now=lambda: NOW) == NOW - timedelta(seconds=back)


def test_a_timestamp_is_still_a_timestamp_and_nonsense_says_both_forms() -> None:
    stamp = "2026-01-01T00:01:00Z"
    assert time_option(stamp, "--since", now=lambda: NOW) == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    with pytest.raises(typer.BadParameter, match="nor a duration back from now such as 30m"):
        time_option("yesterday", "--since")


def test_gaps_since_a_duration(tmp_path: Path) -> None:
    store = build_demo_store(tmp_path / "demo.db")
    # the demo's events are of 2026-01-01: 36,500 days back holds them, 2 hours back does not
    found = CliRunner().invoke(app, ["gaps", "--db", store.url, "--since", "36500d", "--json"])
    assert found.exit_code == 0, found.output
    assert '"class"' in found.stdout
    recent = CliRunner().invoke(app, ["gaps", "--db", store.url, "--since", "2h"])
    assert recent.exit_code == 2 and "nothing recorded in the range asked" in recent.stderr


def test_a_date_alone_is_that_days_midnight_utc_and_a_zoneless_time_stays_refused() -> None:
    """`--since 2026-01-01` was refused as having no time zone: a postmortem names the day."""
    day = datetime(2026, 1, 1, tzinfo=UTC)
    assert time_option("2026-01-01", "--since", now=lambda: NOW) == day
    assert time_option(" 2026-01-02 ", "--until") == day + timedelta(days=1)
    with pytest.raises(typer.BadParameter, match="has no time zone"):
        time_option("2026-01-01T09:00", "--since")  # which zone's 09:00: still ambiguous
    with pytest.raises(typer.BadParameter, match="'2026-02-30' is not a date"):
        time_option("2026-02-30", "--until")


def test_gaps_and_export_take_a_day_and_say_so_in_help(tmp_path: Path) -> None:
    store = build_demo_store(tmp_path / "demo.db")
    # the demo's events are of 2026-01-01: that day holds them, the next day does not
    whole = ["--since", "2026-01-01", "--until", "2026-01-02"]
    found = CliRunner().invoke(app, ["gaps", "--db", store.url, *whole, "--json"])
    assert found.exit_code == 0, found.output
    assert '"class"' in found.stdout
    later = CliRunner().invoke(app, ["gaps", "--db", store.url, "--since", "2026-01-02"])
    assert later.exit_code == 2 and "nothing recorded in the range asked" in later.stderr
    export = CliRunner().invoke(app, ["export", "events", "--db", store.url, *whole])
    assert export.exit_code == 0, export.output
    assert export.stdout.count("\n") > 10
    for command in (["gaps"], ["export", "events"], ["report"], ["whatif"], ["rollouts"]):
        shown = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "2000"})
        assert "this date (00:00 UTC)" in shown.stdout, command


@pytest.mark.parametrize("value", ["99999999d", "999999999999w", "99999999999999999999999s"])
def test_a_duration_back_before_the_year_1_is_a_usage_error_naming_it(
    tmp_path: Path, value: str
) -> None:
    """`--since 99999999d` printed an OverflowError traceback (date value out of range, or
    'Python int too large to convert to C int'): a value too far back is the user's to fix."""
    with pytest.raises(typer.BadParameter, match="before the year 1: leave --since out for no"):
        time_option(value, "--since", now=lambda: NOW)
    with pytest.raises(typer.BadParameter, match=r"reaches back before the year 1$"):
        time_option(value, "--at", now=lambda: NOW)  # no bound to leave out: the state at T
    store = build_demo_store(tmp_path / "demo.db")
    for command in (["gaps"], ["export", "events"], ["rollouts"]):
        args = [*command, "--db", store.url, "--since", value]
        shown = CliRunner().invoke(app, args, env={"COLUMNS": "2000"})
        assert shown.exit_code == 2, (command, shown.output)
        assert shown.exception is None or isinstance(shown.exception, SystemExit), shown.exception
        assert f"'{value}' reaches back before the year 1" in shown.stderr, shown.stderr
