"""`gapwatch db upgrade` creates a SQLite store but not a PostgreSQL database: naming one that
does not exist says how to create it, not only libpq's `FATAL: database ... does not exist`."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.test_cli import gapwatch

pytestmark = pytest.mark.postgres


def test_a_missing_database_says_how_to_create_it(pg_server: str | None, tmp_path: Path) -> None:
    if pg_server is None:
        pytest.skip("no PostgreSQL server")
    url = make_url(pg_server).set(database="gw_never_made").render_as_string(hide_password=False)
    for command in (["db", "upgrade"], ["gaps"]):
        done = gapwatch(*command, "--db", url, cwd=tmp_path)
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1, done.stderr
        assert "create it first (createdb gw_never_made" in done.stderr, done.stderr
