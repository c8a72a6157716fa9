"""Ctrl-C during `gapwatch simulate` (into the store) and `gapwatch replay --rebuild` says what
was committed and how to resume, exits 130, and the resumed command ends where an uninterrupted
one does.

The interrupt is a KeyboardInterrupt raised at a chosen point of the real command, in-process:
a real SIGINT races the work (a fast machine finishes first), a raised one lands where the test
says. Python turns SIGINT into exactly this exception; the import test in test_cli_honest.py
sends a real one.
"""

from __future__ import annotations

import importlib.abc
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder import cli as recorder_cli
from gapwatch.recorder.cliutil import run_app
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim.result import Simulation
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.tables import events
from gapwatch.replay import copyfold, projections
from gapwatch.replay.tables import replay_windows

WINDOW = ("cluster", "service", "node", "class", "start_us", "end_us", "certain", "rollout")
SIMULATE = ["simulate", "-s", "seed-3node", "--seed", "3", "--batch-size", "50"]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"GAPWATCH_CLUSTER": None})
    return result.exit_code, result.stderr


def store(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def rows(url: str, table: Any, *columns: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(select(*(table.c[c] for c in columns)))]
    engine.dispose()
    return sorted(found, key=repr)


def count(url: str, table: Any) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    engine.dispose()
    return n


def test_ctrl_c_during_simulate_says_what_was_committed_and_the_same_command_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = store(tmp_path / "whole.db")
    code, err = invoke(*SIMULATE, "--db", whole)
    assert code == 0, err
    assert count(whole, events) > 120

    url = store(tmp_path / "cut.db")
    real_iter = Simulation.__iter__

    def cut_after_120(self: Simulation) -> Iterator[Observation]:
        for n, obs in enumerate(real_iter(self)):
            if n == 120:  # two batches of 50 committed, the third in flight
                raise KeyboardInterrupt
            yield obs

    monkeypatch.setattr(Simulation, "__iter__", cut_after_120)
    code, err = invoke(*SIMULATE, "--db", url)
    assert code == 130, err
    assert count(url, events) == 100
    assert "interrupted: 100 new events committed" in err
    assert "the batch in flight was rolled back" in err
    assert "run the same command again (--seed 3)" in err
    assert "Traceback" not in err

    monkeypatch.setattr(Simulation, "__iter__", real_iter)
    code, err = invoke(*SIMULATE, "--db", url)
    assert code == 0, err
    columns = ("cluster", "source", "kind", "name", "observed_at", "payload")
    assert rows(url, events, *columns) == rows(whole, events, *columns)


def test_ctrl_c_during_replay_rebuild_rolls_back_says_so_and_the_rerun_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = store(tmp_path / "s.db")
    assert invoke(*SIMULATE, "--db", url)[0] == 0
    code, err = invoke("replay", "--rebuild", "--db", url)
    assert code == 0, err
    windows = rows(url, replay_windows, *WINDOW)
    assert windows, "the seed scenario has windows"

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt  # after the rebuild deleted every projection row

    monkeypatch.setattr(projections, "_write", interrupted)
    code, err = invoke("replay", "--rebuild", "--db", url)
    assert code == 130, err
    assert "interrupted: the rebuild was rolled back, nothing of it committed" in err
    assert f"the projections hold {len(windows)} windows" in err
    assert "run `gapwatch replay --rebuild` again" in err
    assert "Traceback" not in err
    assert rows(url, replay_windows, *WINDOW) == windows

    monkeypatch.undo()
    code, err = invoke("replay", "--rebuild", "--db", url)
    assert code == 0 and f"rebuilt: {len(windows)} windows" in err, err


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_ctrl_c_while_the_facts_are_parsed_on_postgresql_rolls_back(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C while Arrow parsed a piece of the facts' COPY (replay.copyfold) hung the rebuild for
    good: the COPY stayed open in the suspended generator, holding psycopg's connection lock, and
    the rollback waited for it (seen with a real SIGINT 4 s into a 200,000-event rebuild; the
    server sat in ClientWrite)."""
    assert invoke(*SIMULATE, "--db", pg_url)[0] == 0
    code, err = invoke("replay", "--rebuild", "--db", pg_url)
    assert code == 0, err
    windows = rows(pg_url, replay_windows, *WINDOW)
    parsed = []
    real_parse = copyfold._parse

    def parse(data: bytearray, types: dict[str, Any]) -> Any:
        parsed.append(len(data))
        if len(parsed) == 2:  # the COPY has more to send
            raise KeyboardInterrupt
        return real_parse(data, types)

    monkeypatch.setattr(copyfold, "_PIECE_BYTES", 1)  # a piece per row
    monkeypatch.setattr(copyfold, "_parse", parse)
    code, err = invoke("replay", "--rebuild", "--db", pg_url)
    assert code == 130, err
    assert "interrupted: the rebuild was rolled back, nothing of it committed" in err
    assert f"the projections hold {len(windows)} windows" in err
    assert rows(pg_url, replay_windows, *WINDOW) == windows
    monkeypatch.undo()
    code, err = invoke("replay", "--rebuild", "--db", pg_url)
    assert code == 0 and f"rebuilt: {len(windows)} windows" in err, err


def test_ctrl_c_that_no_command_handles_still_says_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Typer turns a KeyboardInterrupt into a silent exit 130: an import interrupted while it
    was starting (before its own handler) said nothing at all."""
    url = store(tmp_path / "s.db")

    def interrupted(db: str) -> list[dict[str, object]]:
        raise KeyboardInterrupt

    monkeypatch.setattr(recorder_cli, "stats_rows", interrupted)
    monkeypatch.setattr(sys, "argv", ["gapwatch", "db", "stats", "--db", url])
    with pytest.raises(SystemExit) as exited:
        run_app(app)
    assert exited.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_ctrl_c_while_the_cli_is_imported_says_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console script imported the CLI (about a second) before run_app could hear Ctrl-C:
    pressed then, it printed a traceback of whichever import it hit (a real SIGINT 0.8 s after
    `gapwatch replay --rebuild` started: 40 lines ending in typer's `def command(`)."""
    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    entry = "gapwatch.dashboard.entry:main"
    assert scripts["project"]["scripts"] == {"gapwatch": entry, "kubectl-gapwatch": entry}

    class Interrupted(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, *_args: object) -> None:
            if name == "gapwatch.dashboard.cli":
                raise KeyboardInterrupt  # as SIGINT lands inside an import
            return None

    from gapwatch.dashboard.entry import main

    monkeypatch.delitem(sys.modules, "gapwatch.dashboard.cli")
    monkeypatch.setattr(sys, "meta_path", [Interrupted(), *sys.meta_path])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"
