"""The demo's windows survive a retention and then an upgrade (replay.kept_rows): on a copy of
the demo store after `gapwatch db maintain --retention 1d` and a change of replay's code,
`gapwatch advise --cluster seed` answered "no cluster 'seed'" and `gaps` listed nothing: the
upgrade's rebuild had recomputed the projections from the events left, none. Both backends."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder.store import make_engine
from gapwatch.replay import revision


def _run(*args: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    return done.exit_code, done.stdout, done.stderr


def _ok(*args: str) -> str:
    code, out, err = _run(*args)
    assert code == 0, out + err
    return out


def _upgrade(url: str) -> None:
    """What an upgrade leaves: projections another revision of replay's code built."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE replay_state SET value = :v WHERE key = :k"),
            {"k": revision.KEY, "v": revision.current() ^ 1},
        )
    engine.dispose()


def test_the_windows_of_a_dropped_day_outlive_an_upgrade(store_url: str) -> None:
    _ok("simulate", "--db", store_url, "--cluster", "seed")
    _ok("replay", "--db", store_url)
    before = json.loads(_ok("gaps", "--db", store_url, "--json"))
    rollouts = json.loads(_ok("rollouts", "--db", store_url, "--json"))
    assert len(before) == 3 and rollouts
    _ok("db", "maintain", "--db", store_url, "--retention", "1d")  # every event of the run
    _upgrade(store_url)
    code, out, err = _run("gaps", "--db", store_url, "--json")
    assert code == 0, out + err
    assert "projections were built by other replay code: rebuilding them" in err
    assert json.loads(out) == before
    # every reader says whose rows they are
    said = "before the first event the store still holds (of cluster seed it holds none): "
    said += "gapwatch computed them before retention"
    assert "note: 3 windows lie " + said in " ".join(err.split())
    code, out, err = _run("rollouts", "--db", store_url, "--json")
    assert json.loads(out) == rollouts
    assert f"rollout{'s' if len(rollouts) != 1 else ''} lie {said}" in " ".join(err.split())
    advise = _ok("advise", "--db", store_url, "--cluster", "seed")
    assert "note: 3 of the 3 windows this advice speaks of lie before the first event" in advise
    assert "note: 3 windows lie " + said in " ".join(advise.split())
    report = _ok("report", "--db", store_url, "--since", "2026-01-01", "--until", "2026-01-02")
    assert "3 windows and" in report and said in " ".join(report.split())

    assert "rebuilt: 3 windows" in _run("replay", "--db", store_url, "--rebuild")[2]
    assert json.loads(_ok("gaps", "--db", store_url, "--json")) == before

    code, out, err = _run("replay", "--db", store_url, "--forget-dropped")
    assert code == 2 and "--rebuild" in out + err
    assert (
        "rebuilt: 0 windows"
        in _run("replay", "--db", store_url, "--rebuild", "--forget-dropped")[2]
    )
    assert json.loads(_ok("gaps", "--db", store_url, "--json")) == []
    code, out, err = _run("advise", "--db", store_url, "--cluster", "seed")
    assert code != 0 and "no cluster 'seed'" in out + err


def test_the_forget_flag_says_what_it_drops() -> None:
    out = CliRunner().invoke(app, ["replay", "--help"], env={"COLUMNS": "200"}).output
    assert "--forget-dropped" in out
    said = " ".join(out.split())
    assert "before the first event the store still holds" in said
    # the command that drops them, not `--retention`, an option `replay` lacks
    assert "events retention (gapwatch db maintain) dropped" in said
