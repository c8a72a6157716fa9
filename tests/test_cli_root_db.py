"""`--db` before the command (`gapwatch --db URL gaps`): the README says every command takes
`--db`, and a newcomer who put it first was told only "No such option: --db". Given there, it
is the command's store over the environment and the default; the command's own `--db` wins.
Real SQLite stores, created by `db upgrade` where the URL points."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gapwatch.dashboard.cli import app


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_the_store_given_before_the_command_is_the_one_it_uses(tmp_path: Path) -> None:
    before, env = tmp_path / "before.db", tmp_path / "env.db"
    done = CliRunner().invoke(
        app, ["--db", _url(before), "db", "upgrade"], env={"GAPWATCH_DB": _url(env)}
    )
    assert done.exit_code == 0, done.output
    assert before.exists() and not env.exists()
    gaps = CliRunner().invoke(app, ["--db", _url(before), "gaps"], env={"GAPWATCH_DB": _url(env)})
    assert gaps.exit_code == 0, gaps.output
    assert "no gap windows" in gaps.output and not env.exists()


def test_the_commands_own_store_wins(tmp_path: Path) -> None:
    before, own = tmp_path / "before.db", tmp_path / "own.db"
    done = CliRunner().invoke(app, ["--db", _url(before), "db", "upgrade", "--db", _url(own)])
    assert done.exit_code == 0, done.output
    assert own.exists() and not before.exists()


def test_a_password_typed_before_the_command_is_warned_of_once_and_not_shown() -> None:
    url = "postgresql+psycopg://gw:hunter2@127.0.0.1:1/none?connect_timeout=2"
    done = CliRunner().invoke(app, ["--db", url, "gaps"])
    assert done.exit_code != 0
    assert done.output.count("URL holds a password") == 1, done.output
    assert "hunter2" not in done.output
