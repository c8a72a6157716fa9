"""A read command that must first bring a far-behind store up to date says so in a log: after
simulating the large preset (1.1 million events, one Service) `gapwatch gaps` was silent on
stderr for 25 s, its only counted step being "detecting windows of 1 Services"."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.replay import cli_checks

NOTE = "bringing replay's projections up to date first: about"


def test_a_far_behind_store_is_announced_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_checks, "CATCH_UP_NOTE_FROM", 100)  # the seed preset's 296 events
    url = f"sqlite:///{tmp_path / 's.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--db", url]).exit_code == 0
    assert runner.invoke(app, ["simulate", "--db", url]).exit_code == 0
    first = runner.invoke(app, ["gaps", "--db", url])
    assert first.exit_code == 0, first.output
    assert NOTE in first.stderr and "`gapwatch replay` after an import" in first.stderr
    again = runner.invoke(app, ["rollouts", "--db", url])
    assert again.exit_code == 0 and NOTE not in again.stderr  # caught up: nothing to say
