"""replay.copyout: COPY TO's bytes read from libpq row by row are psycopg's bytes, whole or in
pieces of whole rows (None where a reader that does not wait would have waited); a server error
while rows stream is psycopg's exception, and the connection goes on (after an error, or a
reader that stopped early)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from gapwatch.replay.copyout import copy_out, copy_pieces

pytestmark = pytest.mark.postgres


def _connect(url: str) -> psycopg.Connection:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(dsn)


def _psycopg_bytes(conn: psycopg.Connection, sql: str) -> bytes:
    out = bytearray()
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for block in copy:
            out += block
    return bytes(out)


# rows of every width (an empty one, NULLs, multi-byte text, a row longer than libpq's
# 16 kB read buffer) and enough of them to span many socket reads
_ROWS = (
    "SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE repeat('é', i % 50) END,"
    " CASE WHEN i = 3 THEN repeat('x', 70000) ELSE '' END"
    " FROM generate_series(1, 20000) AS i"
)


@pytest.mark.parametrize("fmt", ["", " (FORMAT BINARY)", " (NULL '')"])
def test_the_bytes_are_psycopgs(pg_url: str, fmt: str) -> None:
    sql = f"COPY ({_ROWS}) TO STDOUT{fmt}"
    with _connect(pg_url) as conn:
        expected = _psycopg_bytes(conn, sql)
        assert bytes(copy_out(conn, sql)) == expected
        assert len(expected) > 1_000_000


def test_no_rows(pg_url: str) -> None:
    with _connect(pg_url) as conn:
        assert copy_out(conn, "COPY (SELECT 1 WHERE false) TO STDOUT") == bytearray()


def test_an_error_while_rows_stream_is_raised_and_the_connection_goes_on(pg_url: str) -> None:
    # rows 1-4999 are sent before the division by zero at 5000
    sql = "COPY (SELECT 1 / (5000 - i) FROM generate_series(1, 6000) AS i) TO STDOUT"
    with _connect(pg_url) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            copy_out(conn, sql)
        conn.rollback()
        assert copy_out(conn, "COPY (SELECT 42) TO STDOUT") == bytearray(b"42\n")


def test_inside_the_callers_transaction(pg_url: str) -> None:
    """psycopg begins the transaction, so the COPY sees what the caller wrote before it."""
    with _connect(pg_url) as conn:
        conn.execute("CREATE TEMP TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (7)")
        assert copy_out(conn, "COPY t TO STDOUT") == bytearray(b"7\n")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        conn.rollback()


@pytest.mark.parametrize("size", [1, 100_000, 10**9])
def test_pieces_are_whole_rows_of_at_least_the_size(pg_url: str, size: int) -> None:
    sql = f"COPY ({_ROWS}) TO STDOUT"
    with _connect(pg_url) as conn:
        expected = _psycopg_bytes(conn, sql)
        pieces = list(copy_pieces(conn, sql, size))
    assert b"".join(pieces) == expected
    assert all(len(p) >= size for p in pieces[:-1])
    assert all(p.endswith(b"\n") for p in pieces)  # a text COPY's row ends with one
    if size > len(expected):
        assert len(pieces) == 1
    if size == 1:
        # what libpq held of whole rows when the piece reached its size: one row or more a
        # piece, never a row split, and pieces as the server sent them (not one at the end)
        assert 1 < len(pieces) <= 20000
        assert sum(p.count(b"\n") for p in pieces) == 20000


def test_a_reader_that_stops_early_leaves_the_connection_usable(pg_url: str) -> None:
    with _connect(pg_url) as conn:
        pieces = copy_pieces(conn, f"COPY ({_ROWS}) TO STDOUT", 1000)
        assert next(pieces)
        pieces.close()  # psycopg's Copy cancels the rest and drains it
        conn.rollback()
        assert copy_out(conn, "COPY (SELECT 'after') TO STDOUT") == bytearray(b"after\n")


def test_a_reader_that_does_not_wait_gets_none_until_the_server_sends(pg_url: str) -> None:
    """With `wait` saying no, a piece is None while the server has sent nothing more: its row
    3,000 waits for an advisory lock another connection holds (the rows before it fill and flush
    the server's 8 kB output buffer); once the lock is free the pieces are the same bytes."""
    rows = (
        "SELECT CASE WHEN i = 3000 THEN pg_advisory_xact_lock(35)::text END, i"
        " FROM generate_series(1, 4000) AS i"
    )
    sql = f"COPY ({rows}) TO STDOUT"
    waiting = False
    with _connect(pg_url) as holder, _connect(pg_url) as conn:
        expected = _psycopg_bytes(holder, sql)  # (the lock is free: every row)
        holder.commit()  # (and its transaction's lock gone)
        holder.execute("SELECT pg_advisory_lock(35)")
        pieces = copy_pieces(conn, sql, 1, wait=lambda: waiting)
        before = []
        for piece in pieces:  # what the server sent before the lock stopped it, then None
            if piece is None:
                break
            before.append(piece)
        assert before and b"".join(before).count(b"\n") < 3000
        assert next(pieces) is None  # still nothing: the row waits for the lock
        holder.execute("SELECT pg_advisory_unlock(35)")
        holder.commit()
        waiting = True  # from here on the reader waits for the server: no None
        rest = list(pieces)
    assert None not in rest
    assert b"".join([*before, *(p for p in rest if p is not None)]) == expected
