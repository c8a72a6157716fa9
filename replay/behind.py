"""Catching a projection up with the log, the way every refresh does it: look first, lock second.

A projection kept in replay_state (the windows' `last_event_id`, the settings reads' `lbset:`)
is behind when its position is below the source's. `caught_up` reads both without writing or
locking, so a reader (the dashboard, a read-only login) on a current store writes nothing; only
when there is something to do does it open a transaction, lock replay_state on PostgreSQL (two
refreshes at once) and read the positions again under the lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from gapwatch.recorder.store import translate_errors

#: (the projection's position, the position of what it follows), read on a connection
Positions = Callable[[Connection], tuple[int, int]]


@contextmanager
def caught_up(engine: Engine, positions: Positions) -> Iterator[tuple[Connection, int, int] | None]:
    """None when the projection is current; else a transaction holding replay_state's lock,
    with the two positions as read under it (committed when the block ends)."""
    with translate_errors(engine), _reading(engine) as conn:
        since, upto = positions(conn)
    if upto <= since:
        yield None
        return
    with translate_errors(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE replay_state IN EXCLUSIVE MODE"))
        since, upto = positions(conn)
        yield (conn, since, upto) if upto > since else None


def _reading(engine: Engine) -> Connection:
    """A connection for the look before the lock: on PostgreSQL outside a transaction (one
    statement sees one snapshot), which spares its BEGIN and ROLLBACK: two round trips of
    every refresh and every look at a current store."""
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn
