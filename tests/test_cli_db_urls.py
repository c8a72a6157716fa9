"""Store URLs a new user types wrong, or in a form libpq takes: each is one line that says what
to type, or works.

`sqlite://gapwatch.db` (two slashes) printed SQLAlchemy's four-line list of URL forms, and
`sqlite://dir/x.db` opened (and `db upgrade` created) `x.db` in the working directory; libpq's
`postgres://` scheme was an "unsupported database"; `--db foo` was warned of as holding a
password it has no place for.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.test_cli import gapwatch

WARNING = "holds a password"


def run(*args: str, cwd: Path) -> tuple[int, str]:
    done = gapwatch(*args, cwd=cwd)  # a real process: run_app prints the error line
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    ("url", "path"), [("sqlite://x.db", "x.db"), ("sqlite://d/x.db", "d/x.db")]
)
def test_a_sqlite_url_with_two_slashes_says_three_and_creates_nothing(
    tmp_path: Path, url: str, path: str
) -> None:
    (tmp_path / "d").mkdir()
    for command in (["db", "upgrade"], ["gaps"]):
        code, err = run(*command, "--db", url, cwd=tmp_path)
        assert code == 1, (command, err)
        assert err == (
            f"error: {url}: a SQLite URL has three slashes before a relative path "
            f"(sqlite:///{path}) and four before an absolute one (sqlite:////{path})\n"
        ), (command, err)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []


def test_a_value_with_no_place_for_a_password_is_not_warned_of(tmp_path: Path) -> None:
    for value in ("foo", "sqlite:/x.db", "gapwatch.db"):
        code, err = run("gaps", "--db", value, cwd=tmp_path)
        assert code == 1, err
        assert WARNING not in err and err.startswith("error: not a database URL"), err
    code, err = run("gaps", "--db", "gw:pw@127.0.0.1/db", cwd=tmp_path)  # no scheme: may hold
    assert code == 1 and WARNING in err, err


@pytest.mark.postgres
def test_libpqs_postgres_scheme_opens_the_store(pg_url: str, tmp_path: Path) -> None:
    url = make_url(pg_url).set(drivername="postgres").render_as_string(hide_password=False)
    assert url.startswith("postgres://")
    code, err = run("db", "current", "--db", url, cwd=tmp_path)
    assert code == 0, err
