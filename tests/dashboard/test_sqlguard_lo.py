"""A console query may not create large objects (session 31's security review).

On PostgreSQL 15 `lo_from_bytea`, `lo_create` and `lo_creat` run in a READ ONLY transaction and
PUBLIC may call them: a console login wrote 137 MB of WAL and grew `pg_largeobject` by 187 MB in
10 s, all rolled back but written, bounded by no temp_file_limit (dead rows of a catalog until
VACUUM; the console's 30 s triples it). The console login made as the docs say (the store's
database revokes them from PUBLIC) is refused by the server; a login that may still call one is
refused by the guard before any query runs. Real PostgreSQL.
"""

from __future__ import annotations

import pytest

from gapwatch.dashboard.errors import QueryRejected, UnsafeLogin
from gapwatch.dashboard.sqlconsole import run_query
from tests.dashboard.conftest import admin

pytestmark = pytest.mark.postgres

#: 10 large objects of 1 MB each, and the two older creators.
CREATES = (
    "SELECT count(lo_from_bytea(0, convert_to(repeat('x', 1000000) || g, 'UTF8'))) "
    "FROM generate_series(1, 10) g",
    "SELECT lo_create(0)",
    "SELECT lo_creat(-1)",
)


def _largeobject_bytes(url: str) -> int:
    with admin(url) as conn:
        row = conn.execute("SELECT pg_relation_size('pg_largeobject')").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("sql", CREATES, ids=["lo_from_bytea", "lo_create", "lo_creat"])
def test_a_console_query_creates_no_large_object(pg_url: str, console: str, sql: str) -> None:
    before = _largeobject_bytes(pg_url)
    with pytest.raises(QueryRejected, match="permission denied for function"):
        run_query(console, sql, timeout_s=10)
    assert _largeobject_bytes(pg_url) == before


def test_a_login_that_may_create_large_objects_is_refused_before_its_query(
    pg_url: str, console: str
) -> None:
    with admin(pg_url) as conn:
        conn.execute("GRANT EXECUTE ON FUNCTION lo_from_bytea(oid, bytea) TO PUBLIC")
    with pytest.raises(UnsafeLogin, match="lo_from_bytea"):
        run_query(console, "SELECT 1")
