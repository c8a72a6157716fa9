"""A console query may not write the server's WAL (session 29's security review).

`pg_logical_emit_message` runs in a READ ONLY transaction and writes its message to the WAL
whether the transaction commits or not; PUBLIC may call it on a fresh server, so a console login
wrote 192 MB of WAL in 0.5 s, bounded by no temp_file_limit (the console's 30 s would have
written gigabytes to the server's disk). The console login made as the docs say (the store's
database revokes it from PUBLIC) is refused by the server; a login that may still call it is
refused by the guard before any query runs.
"""

from __future__ import annotations

import pytest

from gapwatch.dashboard.errors import QueryRejected, UnsafeLogin
from gapwatch.dashboard.sqlconsole import run_query
from tests.dashboard.conftest import admin

pytestmark = pytest.mark.postgres

#: 10 messages of 4 MB each: 40 MB of WAL if it runs.
EMIT = (
    "SELECT count(pg_logical_emit_message({transactional}, 'gw', repeat('x', 4000000) || g)) "
    "FROM generate_series(1, 10) g"
)


def _wal_bytes_after(url: str, before: str) -> int:
    with admin(url) as conn:
        row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (before,)).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("transactional", ["false", "true"])
def test_a_console_query_writes_no_wal(pg_url: str, console: str, transactional: str) -> None:
    with admin(pg_url) as conn:
        before = str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]
    with pytest.raises(QueryRejected, match="permission denied for function"):
        run_query(console, EMIT.format(transactional=transactional), timeout_s=10)
    # other tests' databases share the server's WAL: far less than the 40 MB asked for
    assert _wal_bytes_after(pg_url, before) < 8_000_000


def test_a_login_that_may_write_wal_is_refused_before_its_query(pg_url: str, console: str) -> None:
    with admin(pg_url) as conn:
        conn.execute(
            "GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO PUBLIC"
        )
    with pytest.raises(UnsafeLogin, match="pg_logical_emit_message"):
        run_query(console, "SELECT 1")
