"""The ways README.md ("Commands") gives to keep a PostgreSQL password off the command line
work with gapwatch's URLs, against a real server that asks for the password (SCRAM): the URL in
GAPWATCH_DB, or a URL without a password and libpq's PGPASSWORD, PGPASSFILE or ~/.pgpass. Both
connection paths are used: SQLAlchemy's (`db upgrade`, `db stats`) and the SQL console's own
psycopg connection (`sql`).

The shared test server trusts every local login (it never asks for a password, so it cannot
tell a right one from none): this module starts its own, which does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gapwatch.dashboard.sqlguard import REVOKES
from tests import pgserver
from tests.test_cli import gapwatch

pytestmark = pytest.mark.postgres

OWNER, READER, PASSWORD = "gw_owner", "gw_console", "PLANTEDscram7"
DB = "gw_store"


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    if pgserver.pg_bin() is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("PostgreSQL server binaries are required under CI=true")
        pytest.skip("no PostgreSQL server binaries")
    root = Path(tempfile.mkdtemp(prefix="gapwatch-scram-", dir="/tmp"))
    try:
        url = pgserver.start(root)
        dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(dsn, autocommit=True) as conn:
            # CREATEROLE: the upgrade creates gapwatch_reader, the console's role
            conn.execute(f"CREATE ROLE {OWNER} LOGIN CREATEROLE PASSWORD '{PASSWORD}'")
            conn.execute(f"CREATE DATABASE {DB} OWNER {OWNER}")
            hba = conn.execute("SHOW hba_file").fetchone()[0]  # type: ignore[index]
            # the superuser keeps its local trust (the fixture's own connections); every other
            # login must prove its password
            Path(hba).write_text(
                "local all all trust\n"
                "host all postgres 127.0.0.1/32 trust\n"
                "host all all 127.0.0.1/32 scram-sha-256\n",
                "utf-8",
            )
            conn.execute("SELECT pg_reload_conf()")
        yield int(url.rsplit(":", 1)[1].split("/", 1)[0])
    finally:
        pgserver.stop(root)
        shutil.rmtree(root, ignore_errors=True)


def url(port: int, user: str = OWNER) -> str:
    return f"postgresql://{user}@127.0.0.1:{port}/{DB}"


def test_every_way_to_keep_the_password_off_the_command_line(port: int, tmp_path: Path) -> None:
    # the server does ask: without a password the login is refused (and says why)
    refused = gapwatch("db", "upgrade", "--db", url(port), cwd=tmp_path, PGPASSFILE="/dev/null")
    assert refused.returncode == 1 and "no password supplied" in refused.stderr, refused.stderr

    # PGPASSWORD with a URL that has none
    done = gapwatch("db", "upgrade", "--db", url(port), cwd=tmp_path, PGPASSWORD=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr

    # the whole URL, password included, in GAPWATCH_DB
    with_password = url(port).replace(f"{OWNER}@", f"{OWNER}:{PASSWORD}@")
    done = gapwatch("db", "stats", cwd=tmp_path, GAPWATCH_DB=with_password)
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr

    # a password file, named by PGPASSFILE or found at ~/.pgpass (libpq ignores one that
    # others may read)
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{port}:{DB}:*:{PASSWORD}\n", "utf-8")
    passfile.chmod(0o600)
    done = gapwatch("db", "stats", "--db", url(port), cwd=tmp_path, PGPASSFILE=str(passfile))
    assert done.returncode == 0, done.stderr
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(passfile, home / ".pgpass")
    (home / ".pgpass").chmod(0o600)
    done = gapwatch("db", "stats", "--db", url(port), cwd=tmp_path, HOME=str(home))
    assert done.returncode == 0, done.stderr

    # the SQL console connects with psycopg itself: a read-only login, password from PGPASSWORD
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/{DB}", autocommit=True) as c:
        c.execute(f"CREATE ROLE {READER} LOGIN PASSWORD '{PASSWORD}' IN ROLE gapwatch_reader")
        c.execute(f"ALTER ROLE {READER} SET temp_file_limit = '256MB'")  # docs/dashboard.md
        for revoke in REVOKES:
            c.execute(revoke)
    done = gapwatch(
        "sql", "--db", url(port, READER), "SELECT count(*) AS n FROM events", "--json",
        cwd=tmp_path, PGPASSWORD=PASSWORD,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 0}], done.stdout


def test_the_password_is_nowhere_in_the_store_or_beside_it(port: int, tmp_path: Path) -> None:
    """Simulated, replayed and queried with the password in GAPWATCH_DB: no row of any table
    (pg_dump of the whole database), no checkpoint file and no output holds it."""
    with_password = url(port).replace(f"{OWNER}@", f"{OWNER}:{PASSWORD}@")
    env = {"GAPWATCH_DB": with_password, "GAPWATCH_CHECKPOINT_DIR": str(tmp_path / "cp")}
    said = ""
    for command in (["db", "upgrade"], ["simulate", "--seed", "3"], ["replay"], ["gaps"]):
        done = gapwatch(*command, cwd=tmp_path, **env)
        assert done.returncode == 0, done.stderr
        said += done.stdout + done.stderr
    assert PASSWORD not in said
    binary = pgserver.pg_bin()
    assert binary is not None
    dump = subprocess.run(
        [str(binary / "pg_dump"), f"postgresql://postgres@127.0.0.1:{port}/{DB}"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert b"istio-ingressgateway" in dump and PASSWORD.encode() not in dump
    kept = [f for f in (tmp_path / "cp").rglob("*") if f.is_file()]
    assert kept  # replay keeps its fold state there for a PostgreSQL store
    for f in kept:
        assert PASSWORD.encode() not in f.read_bytes(), f
