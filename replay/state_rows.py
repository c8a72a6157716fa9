"""replay_state rows (key -> value) written as one upsert: a refresh sets its position, the
Services' context and the settings reads' position on every run, one round trip each (a delete
then an insert took two)."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from gapwatch.replay.tables import replay_state


def put(conn: Connection, rows: dict[str, int]) -> None:
    """Set each key's value (inserted, or replaced where the key is stored)."""
    if not rows:
        return
    upsert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(replay_state)
    statement = upsert.on_conflict_do_update(
        index_elements=[replay_state.c.key], set_={"value": upsert.excluded.value}
    )
    conn.execute(statement, [{"key": k, "value": v} for k, v in rows.items()])
