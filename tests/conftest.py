"""Shared fixtures: a real PostgreSQL 15 and SQLite, one store suite for both.

PostgreSQL comes from GAPWATCH_TEST_PG (a server URL, as `.ci/run` exports it); without it the
session starts its own throwaway server (tests/pgserver.py). When neither works the Postgres tests
are skipped on a laptop but FAIL under CI=true: CI must prove both backends.

Under pytest-xdist (pyproject's addopts) each worker is its own session: without GAPWATCH_TEST_PG
each starts its own server; TEMPLATE is per process, so workers never share a template.

Each test that asks for `store_url` gets a brand-new, migrated database: on Postgres a
`CREATE DATABASE ... TEMPLATE` copy of a migrated template (about 50 ms), on SQLite a copy of a
file migrated once per session (`migrated_sqlite`; migrating each took about 50 ms of CPU, and
`gapwatch db upgrade` in a subprocess about 0.9 s, where a test only wanted a schema).
Every Postgres database a test made is dropped when the test ends (WITH (FORCE): a recorder thread
a failed test left behind must not keep it), and the session's own server is deleted at the end:
a full run used to leave about 2 GB of databases behind, enough to fill a small disk mid-run.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from gapwatch.recorder.store import make_engine, upgrade
from tests import pgserver
from tests.schedule import (  # noqa: F401 (xdist's hooks: labs first, a worker for them)
    pytest_xdist_auto_num_workers,
    pytest_xdist_make_scheduler,
)


def pytest_configure(config: pytest.Config) -> None:
    """Keep compiled bytecode, in this process and every process the session starts (xdist's
    workers are started after this hook; the CLI's and recorders' subprocesses later).

    Some machines set PYTHONDONTWRITEBYTECODE (this one does): then every Python process compiles
    each module it imports from source again. The suite starts hundreds of `gapwatch` processes,
    each importing about a thousand modules: a `gapwatch gaps` call took 2.4 s of CPU that way
    and 1.0 s with the bytecode kept (2026-12-04). __pycache__ is git-ignored."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False


#: Per test session: concurrent sessions (and branches with other migrations) share one server.
TEMPLATE = f"gapwatch_template_{os.getpid()}"


def _admin_dsn(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database="postgres")
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str | None]:
    """The base URL of a running PostgreSQL, or None (skip/fail decided by pg_url)."""
    given = os.environ.get("GAPWATCH_TEST_PG")
    if given:
        yield given
        return
    if pgserver.pg_bin() is None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="gapwatch-pg-", dir="/tmp"))
    try:
        url = pgserver.start(root)
    except Exception as exc:  # pragma: no cover - reported via pg_url
        pytest.gapwatch_pg_error = str(exc)  # type: ignore[attr-defined]
        yield None
        return
    try:
        yield url
    finally:
        pgserver.stop(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_server: str | None) -> Iterator[str | None]:
    """Create (once) a migrated template database; yield the server URL; drop it at the end."""
    if pg_server is None:
        yield None
        return
    with psycopg.connect(_admin_dsn(pg_server), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    engine = make_engine(str(make_url(pg_server).set(database=TEMPLATE)))
    upgrade(engine)
    engine.dispose()
    yield pg_server
    with psycopg.connect(_admin_dsn(pg_server), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")


def new_pg_database(server: str, *, migrated: bool = True) -> str:
    """A fresh database on `server` (a copy of the migrated template, or empty)."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(_admin_dsn(server), autocommit=True) as conn:
        if migrated:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        else:
            conn.execute(f"CREATE DATABASE {name}")
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    """Drop a database `new_pg_database` made, even if a leftover connection still uses it."""
    name = make_url(url).database
    with psycopg.connect(_admin_dsn(url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _require_pg(server: str | None) -> str:
    if server is None:
        reason = getattr(pytest, "gapwatch_pg_error", "no PostgreSQL server binaries found")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    return server


@pytest.fixture
def pg_url(pg_template: str | None) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test (dropped after it)."""
    url = new_pg_database(_require_pg(pg_template))
    yield url
    drop_pg_database(url)


@pytest.fixture
def pg_empty_url(pg_template: str | None) -> Iterator[str]:
    """A fresh, empty (unmigrated) PostgreSQL database for this test (dropped after it)."""
    url = new_pg_database(_require_pg(pg_template), migrated=False)
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, migrated store on each backend (the test runs once per backend)."""
    if backend == "sqlite":
        make: Callable[[Path], str] = request.getfixturevalue("migrated_sqlite")
        return make(tmp_path / "store.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated to head once per session (per xdist worker), closed: its WAL
    checkpointed into the file, so a copy of the file alone is the whole store."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def migrated_sqlite(sqlite_template: Path) -> Callable[[Path], str]:
    """Make a migrated SQLite store at a path, as `gapwatch db upgrade --db sqlite:///PATH` leaves
    it (the same migrations, from the session's template), for tests whose claim is not about
    the upgrade itself; returns its URL."""

    def make(path: Path) -> str:
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"

    return make


@pytest.fixture
def empty_store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, unmigrated store on each backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return str(request.getfixturevalue("pg_empty_url"))


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session", autouse=True)
def _checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`gapwatch replay` saves its fold state (replay.checkpoint_file): for a PostgreSQL store
    under GAPWATCH_CHECKPOINT_DIR, here the session's temporary folder, not the home cache."""
    before = os.environ.get("GAPWATCH_CHECKPOINT_DIR")
    os.environ["GAPWATCH_CHECKPOINT_DIR"] = str(tmp_path_factory.mktemp("checkpoints"))
    yield
    if before is None:
        os.environ.pop("GAPWATCH_CHECKPOINT_DIR", None)
    else:
        os.environ["GAPWATCH_CHECKPOINT_DIR"] = before
