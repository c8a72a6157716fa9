"""What a new PostgreSQL engine's first connection asks of the server before its first
statement (recorder.store.make_engine), counted from libpq's protocol trace (tests/pgtrace.py):
no hstore type look-up, since no column or value of the store is one. SQLAlchemy's look-up is
three round trips (a savepoint, the pg_type query, its release) on every run that opens an
engine (`gapwatch replay`, each refresh of benchmarks/replay.py)."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from sqlalchemy import event, text

from gapwatch.recorder.store import make_engine
from tests.pgtrace import FLAGS, waits

pytestmark = pytest.mark.postgres


def _first_connection(url: str, **kwargs: Any) -> tuple[list[str], Any]:
    """The protocol trace of a new engine's first connection, from its opening to the end of a
    first statement, and that statement's result."""
    engine = make_engine(url, **kwargs)
    with tempfile.TemporaryFile() as trace:

        def on_connect(dbapi: Any, _record: Any) -> None:
            dbapi.pgconn.trace(trace.fileno())
            dbapi.pgconn.set_trace_flags(FLAGS)

        event.listen(engine, "connect", on_connect, insert=True)
        try:
            with engine.connect() as conn:
                value = conn.execute(text("SELECT 1")).scalar_one()
                conn.connection.driver_connection.pgconn.untrace()  # type: ignore[union-attr]
        finally:
            engine.dispose()
        trace.seek(0)
        return trace.read().decode(errors="replace").splitlines(), value


def test_a_new_engine_does_not_look_up_the_hstore_type(pg_url: str) -> None:
    lines, value = _first_connection(pg_url)
    assert value == 1
    assert not [ln for ln in lines if "hstore" in ln]
    # SQLAlchemy's own look-up, as the engine did before: 3 round trips more (11 against 8)
    before, _ = _first_connection(pg_url, use_native_hstore=True)
    assert [ln for ln in before if "hstore" in ln]
    assert waits(before) == waits(lines) + 3
