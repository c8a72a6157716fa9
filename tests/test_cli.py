"""The `gapwatch` command line: help everywhere, clean one-line errors, exit codes. Runs the real
console entry point in a subprocess, as a user would."""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.core import TyperCommand, TyperGroup

from gapwatch.dashboard.cli import app
from gapwatch.recorder.ndjson import dumps
from tests.store.samples import real_observations

ROOT = Path(__file__).resolve().parents[1]


def gapwatch(
    *args: str, cwd: Path, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
    environ.update(env, PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "gapwatch.dashboard.cli", *args],
        cwd=cwd, env=environ, input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@functools.cache
def root_command() -> TyperGroup:
    """The Click command tree Typer builds from `app`, built once: each build walks every
    command's signature (about 50 ms), and this module asked for it once per command path at
    import (about 4 s of CPU in every xdist worker, each of which collects every module) and
    again in each test."""
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    return command


def all_commands() -> list[list[str]]:
    """Every command path. Typer bundles its own Click: groups are TyperGroup, not click.Group
    (an isinstance on click.Group never matched, and only the root was walked)."""
    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        found.append(path)
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(root_command(), [])
    assert len(found) > 10, found
    return found


def _command_at(path: list[str]) -> object:
    command: object = root_command()
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "gapwatch")
def test_every_option_and_argument_says_what_it_is(path: list[str]) -> None:
    """`import ... --batch-size` showed only `[default: 5000]`: 5000 of what?"""
    command = _command_at(path)
    if isinstance(command, TyperGroup):
        return
    assert isinstance(command, TyperCommand)
    silent = [p.opts for p in command.params if not (getattr(p, "help", None) or "").strip()]
    assert not silent, f"{' '.join(path)}: no help for {silent}"


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "gapwatch")
def test_no_help_names_a_default_other_than_the_one_shown(path: list[str]) -> None:
    """`lab table --duration` read "(default: the scenario's duration_s)" beside [default: 100.0]
    (its own default)."""
    command = _command_at(path)
    if isinstance(command, TyperGroup):
        return
    assert isinstance(command, TyperCommand)
    for p in command.params:
        said = getattr(p, "help", None) or ""
        if "(default:" in said:
            shown = p.default not in (None, False) and getattr(p, "show_default", None) is not False
            assert not shown, f"{' '.join(path)} {p.opts}: {said!r} and [default: {p.default}]"


GROUPS = [p for p in all_commands() if isinstance(_command_at(p), TyperGroup)]


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "gapwatch")
def test_every_command_explains_itself(path: list[str]) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    command = _command_at(path)
    assert isinstance(command, TyperGroup | TyperCommand)
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"


#: What a user runs (every command but the groups that only list theirs).
RUNNABLE = [
    p
    for p in all_commands()
    if not isinstance(c := _command_at(p), TyperGroup) or c.invoke_without_command
]


@pytest.mark.parametrize("path", RUNNABLE, ids=" ".join)
def test_every_command_ends_its_help_with_an_example_that_parses(path: list[str]) -> None:
    """No `--help` but report's showed a whole command line to start from."""
    from typer.testing import CliRunner

    from gapwatch.dashboard.examples import EXAMPLES, OWN_EXAMPLE

    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "2000"})
    assert result.exit_code == 0, result.output
    assert f"Example: gapwatch {' '.join(path)} " in result.output, result.output
    if tuple(path) in OWN_EXAMPLE:
        return
    argv = shlex.split(EXAMPLES[tuple(path)])
    assert argv[: len(path) + 1] == ["gapwatch", *path]
    command = _command_at(path)
    assert isinstance(command, TyperGroup | TyperCommand)
    command.make_context(" ".join(path), argv[len(path) + 1 :])  # raises on an unknown option


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "gapwatch")
def test_a_command_list_gives_each_command_one_line(path: list[str]) -> None:
    """On a terminal wide enough for every summary, each row of the Commands panel names a
    command: `gapwatch --help` once broke record's, receive's, demo's, report's, db maintain's
    summaries where their docstrings wrap ("... Events) and" / "every other source ...")."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "2000"})
    assert result.exit_code == 0, result.output
    panel = result.output.split("Commands ─", 1)[1].split("╰", 1)[0]
    rows = [line.strip("│ ") for line in panel.splitlines()[1:]]
    names = sorted(_command_at(path).commands)  # type: ignore[attr-defined]
    assert sorted(row.split()[0] for row in rows) == names, result.output


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "gapwatch")
def test_every_help_fits_80_columns_without_cutting_a_word(path: list[str]) -> None:
    """Typer's rich help cuts a word wider than its column with "…": below 110 columns `probe
    --help` read `--health-check…`, `healthCheckNode…`, `--no-proxy-hea…`, and every command
    with `--db` `postgresql://USER@HOST:PO…`. Nothing cut, nothing beyond 80 columns."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    cut = [line for line in result.output.splitlines() if "…" in line or len(line) > 80]
    assert not cut, "\n".join(cut)


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "gapwatch")
def test_a_flag_shows_no_value_in_help(path: list[str]) -> None:
    """Typer 0.29's rich help wrote a type beside every flag (`--strict <bool>`, `--json <bool>`,
    `--help <bool>`): it read as if the flag took a value, which it refuses. A flag's row names
    the flag and its help only; an option that takes a value still shows what it takes."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output, result.output
    rows = {}
    for line in result.output.splitlines():
        words = line.strip("│ *").split()
        if words and words[0].startswith("--"):
            rows[words[0]] = line
    assert "<" not in rows["--help"].split("Show this message")[0], rows["--help"]
    if "--db" in rows:  # the value it takes, not `<str>` (record, sql and lab showed that)
        assert rows["--db"].strip("│ *").split()[1] == "URL", rows["--db"]


def test_help_paragraphs_are_reflowed_not_broken_where_the_docstring_wraps() -> None:
    """Typer's "rich" mode kept the docstring's line breaks: at 80 columns `probe --help` read
    "... kube-proxy's /healthz and" / "/livez. Stores ..." / "(docs/observation.md). Stops"."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["probe", "--help"], env={"COLUMNS": "2000"})
    assert result.exit_code == 0, result.output
    assert "kube-proxy's /healthz and /livez. Stores transitions with their bounds" in (
        result.output
    )


def test_readme_first_steps_work_on_the_default_sqlite(tmp_path: Path) -> None:
    data = tmp_path / "sample.ndjson"
    data.write_text("".join(dumps(o) + "\n" for o in real_observations()))
    assert gapwatch("db", "upgrade", cwd=tmp_path).returncode == 0
    assert (tmp_path / "gapwatch.db").exists()
    imported = gapwatch("import", "events", str(data), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert f"{len(real_observations())} new" in imported.stderr
    stats = gapwatch("db", "stats", "--json", cwd=tmp_path)
    assert stats.returncode == 0
    assert '"kind": "TargetHealth"' in stats.stdout


def test_bad_lines_give_file_line_reason_and_exit_3(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    migrated_sqlite(tmp_path / "gapwatch.db")  # the default store, as `db upgrade` leaves it
    good = [dumps(o) for o in real_observations()[:3]]
    data = tmp_path / "mixed.ndjson"
    data.write_text("\n".join([good[0], "{oops", good[1], good[1], good[2]]) + "\n")
    result = gapwatch("import", "events", str(data), cwd=tmp_path)
    assert result.returncode == 3
    assert f"{data}:2: not valid JSON" in result.stderr
    assert "4 valid lines: 3 new, 1 already stored; 1 rejected" in result.stderr
    again = gapwatch("import", "events", "-", cwd=tmp_path, stdin=data.read_text())
    assert again.returncode == 3
    assert "<stdin>:2: not valid JSON" in again.stderr
    assert "4 valid lines: 0 new, 4 already stored; 1 rejected" in again.stderr


def test_export_round_trips_through_stdout(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    migrated_sqlite(tmp_path / "gapwatch.db")
    data = tmp_path / "in.ndjson"
    data.write_text("".join(dumps(o) + "\n" for o in real_observations()))
    gapwatch("import", "events", str(data), cwd=tmp_path)
    exported = gapwatch("export", "events", cwd=tmp_path)
    assert exported.returncode == 0
    assert exported.stdout == data.read_text()


def test_errors_are_one_clean_line(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> None:
    not_migrated = gapwatch("export", "events", cwd=tmp_path)
    assert not_migrated.returncode == 1
    assert "run `gapwatch db upgrade`" in not_migrated.stderr
    assert "Traceback" not in not_migrated.stderr
    bad_url = gapwatch("db", "upgrade", "--db", "mysql://x/y", cwd=tmp_path)
    assert bad_url.returncode == 1
    assert bad_url.stderr.strip().startswith("error: unsupported database 'mysql'")
    secret = gapwatch(
        "db", "upgrade", cwd=tmp_path, GAPWATCH_DB="postgresql://u:hunter2@127.0.0.1:1/db"
    )
    assert secret.returncode == 1
    assert "hunter2" not in secret.stderr and "***" in secret.stderr
    assert len(secret.stderr.strip().splitlines()) == 1
    migrated_sqlite(tmp_path / "gapwatch.db")
    missing = gapwatch("import", "events", str(tmp_path / "nope.ndjson"), cwd=tmp_path)
    assert missing.returncode == 1 and "No such file" in missing.stderr


def test_an_output_file_that_cannot_be_written_is_one_clean_line(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    """`report -o`, `export --format parquet -o` and `import --errors` into a folder that does
    not exist (or onto a folder) printed Typer's full traceback."""
    data = tmp_path / "sample.ndjson"
    data.write_text("".join(dumps(o) + "\n" for o in real_observations()))
    migrated_sqlite(tmp_path / "gapwatch.db")
    gapwatch("import", "events", str(data), cwd=tmp_path)
    gone = tmp_path / "no" / "such"
    cases = {
        ("report", "-o", str(gone / "r.md")): f"error: {gone / 'r.md'}: No such file or directory",
        ("report", "-o", str(tmp_path)): f"error: {tmp_path}: Is a directory",
        ("import", "events", str(data), "--errors", str(gone / "e.ndjson")): (
            f"error: {gone / 'e.ndjson'}: No such file or directory"
        ),
        ("export", "events", "--format", "parquet", "-o", str(gone / "x.parquet")): (
            f"Failed to open local file '{gone / 'x.parquet'}'"
        ),
    }
    for args, said in cases.items():
        done = gapwatch(*args, cwd=tmp_path)
        assert done.returncode == 1, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], (
            args,
            done.stderr,
        )
