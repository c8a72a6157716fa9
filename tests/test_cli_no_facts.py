"""A store that holds no facts is replayed to no windows, not to a traceback. On PostgreSQL
`gapwatch replay --rebuild` on a new store (`db upgrade`, nothing recorded yet), or on one whose
every event `db maintain --retention` dropped, ended in pyarrow's `ArrowInvalid: Empty CSV
file`: the COPY of no facts sent no text, and Arrow's CSV reader refuses an empty one. `report
--since/--until` over the windows the projections keep after such a retention folded the same
empty COPY and failed the same way."""

from __future__ import annotations

from typer.testing import CliRunner

from gapwatch.dashboard.cli import app


def _ok(*args: str) -> str:
    done = CliRunner().invoke(app, list(args))
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert done.exit_code == 0, done.output
    return done.output


def test_a_new_store_rebuilds_to_no_windows(store_url: str) -> None:
    out = _ok("replay", "--rebuild", "--db", store_url)
    assert "rebuilt: 0 windows" in out
    assert "no gap windows" in _ok("gaps", "--db", store_url)


def test_a_store_emptied_by_retention_rebuilds_and_reports(store_url: str) -> None:
    _ok("simulate", "--db", store_url, "--cluster", "seed")
    _ok("replay", "--db", store_url)
    # the simulated events are of 2026-01-01: a day's retention drops every one, with its facts
    dropped = _ok("db", "maintain", "--db", store_url, "--retention", "1d")
    assert "296 events" in dropped
    # the projections outlive the raw rows (docs/retention.md): the report still has windows
    report = _ok("report", "--db", store_url, "--since", "2026-01-01", "--until", "2026-01-02")
    assert "gap windows" in report and "| NODE1 |" in report
    # a rebuild folds the empty store and keeps the windows the retention left (replay.kept_rows)
    assert "rebuilt: 3 windows" in _ok("replay", "--rebuild", "--db", store_url)
    forget = ("replay", "--rebuild", "--forget-dropped", "--db", store_url)
    assert "rebuilt: 0 windows" in _ok(*forget)
