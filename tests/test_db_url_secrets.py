"""A store URL's password never reaches the screen, a log line or an error, whatever is wrong
with the URL; and a password typed on the command line (`--db`), where every user of the
machine can read it in `ps`, is pointed out (README.md, "Commands")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import gapwatch

PASSWORD = "PLANTEDpw9"

#: URLs wrong in the ways people get them wrong, each with the password in it.
BAD_URLS = [
    f"postgresql:/gw:{PASSWORD}@127.0.0.1/db",  # one slash short
    f"gw:{PASSWORD}@127.0.0.1:5432/db",  # no scheme at all
    f"postgresql://gw:{PASSWORD}@127.0.0.1:54x2/db",  # a port that is not a number
    f"postgresql://gw:{PASSWORD}@127.0.0.1:1/db",  # nothing listens
    f"postgresql://gw:{PASSWORD}@127.0.0.1:1/db?sslmode=bogus",
    f"mysql://gw:{PASSWORD}@127.0.0.1/db",
]
#: Commands that open the store each their own way.
COMMANDS = [
    ["gaps"],
    ["db", "upgrade"],
    ["sql", "SELECT 1"],
]


@pytest.mark.parametrize("url", BAD_URLS, ids=range(len(BAD_URLS)))
def test_a_bad_url_is_one_line_without_its_password(url: str, tmp_path: Path) -> None:
    for command in COMMANDS:
        done = gapwatch(*command, cwd=tmp_path, GAPWATCH_DB=url)
        said = done.stdout + done.stderr
        assert done.returncode == 1, (command, said)
        assert "Traceback" not in said and "╭" not in said, (command, said)
        assert PASSWORD not in said, (command, said)
        assert done.stderr.startswith("error: "), (command, said)


WARNING = "warning: the --db URL holds a password"
#: A store that does not answer: each command fails after its warning (or its silence).
UNREACHABLE = f"postgresql://gw:{PASSWORD}@127.0.0.1:1/db"


def test_a_password_typed_on_the_command_line_is_pointed_out_once(tmp_path: Path) -> None:
    done = gapwatch("db", "current", "--db", UNREACHABLE, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count(WARNING) == 1, done.stderr
    assert "GAPWATCH_DB" in done.stderr and "PGPASSWORD, PGPASSFILE or ~/.pgpass" in done.stderr
    assert PASSWORD not in done.stderr
    # the SQL console names its own variable first
    done = gapwatch("sql", "--db", UNREACHABLE, "SELECT 1", cwd=tmp_path)
    assert done.stderr.count(WARNING) == 1 and "GAPWATCH_CONSOLE_DB" in done.stderr
    assert PASSWORD not in done.stderr


def test_no_warning_without_a_password_or_from_the_environment_or_a_file(tmp_path: Path) -> None:
    quiet = [
        gapwatch("db", "current", "--db", "postgresql://gw@127.0.0.1:1/db", cwd=tmp_path),
        gapwatch("db", "current", cwd=tmp_path, GAPWATCH_DB=UNREACHABLE),
        gapwatch("sql", "SELECT 1", cwd=tmp_path, GAPWATCH_CONSOLE_DB=UNREACHABLE),
    ]
    config = tmp_path / "record.yaml"
    config.write_text(f"cluster: c\ndb: {UNREACHABLE}\n", "utf-8")
    quiet.append(gapwatch("record", "--config", str(config), cwd=tmp_path))
    for done in quiet:
        assert done.returncode == 1, done.stderr
        assert WARNING not in done.stderr, done.args
        assert PASSWORD not in done.stdout + done.stderr


def test_the_lab_hands_its_store_to_gapwatch_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gapwatch lab --db URL` ran `gapwatch db upgrade --db URL`, `simulate --db URL` and
    `gaps --db URL`: the password the user kept out of `ps` came back in the children's. The
    recorders' config file that holds it is the user's alone."""
    from types import SimpleNamespace

    from gapwatch.recorder.lab import procs
    from gapwatch.recorder.lab.session import Lab

    seen: list[tuple[list[str], dict[str, str]]] = []

    def run(argv: list[str], **kwargs: object) -> SimpleNamespace:
        seen.append((argv, dict(kwargs["env"])))  # type: ignore[call-overload]
        return SimpleNamespace(returncode=0, stdout="[]", stderr="")

    monkeypatch.setattr("gapwatch.recorder.lab.procs.subprocess.run", run)
    procs.gapwatch("db", "upgrade", db=UNREACHABLE)
    procs.gaps_json(UNREACHABLE, "c")
    for argv, env in seen:
        assert not any(PASSWORD in arg for arg in argv), argv
        assert env["GAPWATCH_DB"] == UNREACHABLE
    holder = SimpleNamespace(workdir=tmp_path)
    Lab.write_config(holder, {"db": UNREACHABLE})  # type: ignore[arg-type]
    assert (tmp_path / "record.yaml").stat().st_mode & 0o077 == 0
