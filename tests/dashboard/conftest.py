"""A console login for the SQL console's tests: on PostgreSQL a fresh, harmless LOGIN role.

The store's own URL is a superuser's, which the console refuses (dashboard/sqlguard.py); the
console runs as a login that is a member of gapwatch_reader with a temp_file_limit, in a
database where PUBLIC may not call set_config, as docs/dashboard.md tells an operator to make
it. Roles are server-wide: each is dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from gapwatch.dashboard.sqlguard import REVOKES


def make_console_login(store_url: str, *, temp_file_limit: str = "64MB") -> tuple[str, str]:
    """Create a login role fit for the console on the store's server; (its URL, its name)."""
    name = "gwc_" + uuid.uuid4().hex[:12]
    admin = make_url(store_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN IN ROLE gapwatch_reader")
        conn.execute(f"ALTER ROLE {name} SET temp_file_limit = '{temp_file_limit}'")
        for revoke in REVOKES:
            conn.execute(revoke)
    url = make_url(store_url).set(username=name, password=None)
    return url.render_as_string(hide_password=False), name


def admin(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection as the store's own (superuser) login, to look at the server."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(dsn, autocommit=True)


def drop_login(store_url: str, name: str) -> None:
    admin = make_url(store_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {name}")


@pytest.fixture
def console_url(store_url: str, backend: str) -> Iterator[str]:
    """The URL the console is pointed at: the SQLite file itself, or a console login on PG."""
    if backend == "sqlite":
        yield store_url
        return
    url, name = make_console_login(store_url)
    try:
        yield url
    finally:
        drop_login(store_url, name)


@pytest.fixture
def console(pg_url: str) -> Iterator[str]:
    """A console login's URL on the PostgreSQL test server (the guard tests' own login)."""
    url, name = make_console_login(pg_url)
    try:
        yield url
    finally:
        drop_login(pg_url, name)
