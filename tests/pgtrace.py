"""libpq's protocol trace, to count what code asks of PostgreSQL without timing it: the times it
waits for the server (each ReadyForQuery, and each COPY's CopyInResponse) and the statements it
sends (each Query, each Execute). tests/replay/test_refresh_round_trips.py and
`benchmarks/refresh_large.py --round-trips` read it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import pq
from sqlalchemy import Connection, Engine, event

FLAGS = pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE
WAITS = ("ReadyForQuery", "CopyInResponse")
STATEMENTS = ("Query", "Execute")


def _kinds(lines: list[str]) -> list[str]:
    return [ln.split("\t")[2] for ln in lines if ln.count("\t") >= 2]


def waits(lines: list[str]) -> int:
    """The times the client waited for the server in `lines` (both directions' lines)."""
    return sum(kind in WAITS for kind in _kinds(lines))


def statements(lines: list[str]) -> int:
    return sum(kind in STATEMENTS for kind in _kinds(lines))


@contextmanager
def engine_trace(engine: Engine) -> Iterator[list[str]]:
    """The trace of every connection the engine checks out inside the block (its lines, filled
    when the block ends)."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as trace:

        def on_checkout(dbapi: Any, _record: Any, _proxy: Any) -> None:
            dbapi.pgconn.trace(trace.fileno())
            dbapi.pgconn.set_trace_flags(FLAGS)

        def on_checkin(dbapi: Any, _record: Any) -> None:
            dbapi.pgconn.untrace()

        event.listen(engine, "checkout", on_checkout)
        event.listen(engine, "checkin", on_checkin)
        try:
            yield lines
        finally:
            event.remove(engine, "checkout", on_checkout)
            event.remove(engine, "checkin", on_checkin)
            trace.seek(0)
            lines += trace.read().decode(errors="replace").splitlines()


@contextmanager
def connection_trace(conn: Connection) -> Iterator[list[str]]:
    """The trace of one connection inside the block (filled when the block ends)."""
    raw: Any = conn.connection.driver_connection
    lines: list[str] = []
    with tempfile.TemporaryFile() as trace:
        raw.pgconn.trace(trace.fileno())
        raw.pgconn.set_trace_flags(FLAGS)
        try:
            yield lines
        finally:
            raw.pgconn.untrace()
            trace.seek(0)
            lines += trace.read().decode(errors="replace").splitlines()
