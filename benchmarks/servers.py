"""The PostgreSQL a benchmark of mine runs on, and the databases it makes there and drops."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests import pgserver


@contextmanager
def bench_server(given: str | None) -> Iterator[str]:
    """`given` (a server URL), or a throwaway PostgreSQL 15 with its default durability."""
    if given:
        yield given
        return
    root = Path(tempfile.mkdtemp(prefix="gapwatch-bench-pg-", dir="/tmp"))
    server = pgserver.start(root)
    try:
        yield server
    finally:
        pgserver.stop(root)


def _admin(server: str) -> str:
    url = make_url(server).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def new_db(server: str) -> str:
    """The URL of a new, empty database on `server` (drop it with drop_db)."""
    name = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(_admin(server), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_db(server: str, url: str) -> None:
    with psycopg.connect(_admin(server), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {make_url(url).database}")
