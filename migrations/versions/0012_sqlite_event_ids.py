"""SQLite: event ids never go back (AUTOINCREMENT), from above every id the store ever used

Revision ID: 0012_sqlite_event_ids
Revises: 0011_projector_revision
Create Date: 2026-12-06

SQLite numbers a plain `INTEGER PRIMARY KEY` row from the largest id in the table: after a
retention that deleted every event (a store idle for longer than its retention) the next events
were numbered from 1 again, under the facts projector's position, and were stored and never
derived (docs/retention.md). `AUTOINCREMENT` numbers from the largest id ever handed out, kept
by SQLite itself in `sqlite_sequence`, whichever path inserts (the writer, an import, a
migration): no code of ours has to remember a floor.

SQLite cannot add AUTOINCREMENT to a table, so `events` is rebuilt from its own definition
(sqlite_master's, with the primary key made `PRIMARY KEY (id AUTOINCREMENT)`): a new table made
with it, the rows copied in id order (ids kept), the old one dropped, the new one renamed and its
indexes made again from their own definitions. The sequence then starts above every id the store
knows of: the largest event id, and the positions that outlive their events (the projectors',
replay's, the facts' and the failures' event ids), so a store that was already emptied by a
retention and not yet written to gets its next ids above what its projectors passed. One pass
over the table; PostgreSQL (a sequence, which never goes back) is left as it is.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_sqlite_event_ids"
down_revision: str | None = "0011_projector_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Every id the store may have passed: events left, and positions that outlive their events.
_FLOOR = """
SELECT max(
    (SELECT coalesce(max(id), 0) FROM events),
    (SELECT coalesce(max(position), 0) FROM projector_positions),
    (SELECT coalesce(max(revision_at), 0) FROM projector_positions),
    (SELECT coalesce(max(other_to), 0) FROM projector_positions),
    (SELECT coalesce(max(event_id), 0) FROM facts),
    (SELECT coalesce(max(event_id), 0) FROM projector_failures),
    (SELECT coalesce(max(value), 0) FROM replay_state WHERE key = 'last_event_id')
)
"""
_PLAIN = "PRIMARY KEY (id)"
_AUTO = "PRIMARY KEY (id AUTOINCREMENT)"


def _rebuild(old: str, new: str) -> None:
    """`events` made again with `old` in its definition replaced by `new`, rows and indexes kept."""
    conn = op.get_bind()
    made = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'events'")).scalar_one()
    if old not in made:
        raise RuntimeError(f"events is not defined as this migration expects ({old}): {made}")
    indexes = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE tbl_name = 'events' AND type = 'index' "
                "AND sql IS NOT NULL")
    ).scalars().all()  # fmt: skip
    # the stored definitions run as they are (exec_driver_sql: no bind parameters read in them)
    # (a table SQLite renamed is stored as CREATE TABLE "events")
    rebuilt = re.sub(r'^CREATE TABLE\s+("?)events\1', "CREATE TABLE events_rebuilt", made)
    conn.exec_driver_sql(rebuilt.replace(old, new))
    op.execute("INSERT INTO events_rebuilt SELECT * FROM events ORDER BY id")
    floor = conn.execute(sa.text(_FLOOR)).scalar_one()
    # SQLite checks every view against the schema when a table is renamed, and the views name
    # `events`, which does not exist between the drop and the rename: the legacy rename does
    # not look at views (they read `events` again once it exists).
    op.execute("PRAGMA legacy_alter_table = ON")
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE events_rebuilt RENAME TO events")
    op.execute("PRAGMA legacy_alter_table = OFF")
    for index in indexes:
        conn.exec_driver_sql(index)
    if new == _AUTO:
        op.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
        op.execute(f"INSERT INTO sqlite_sequence (name, seq) VALUES ('events', {int(floor)})")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(_PLAIN, _AUTO)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(_AUTO, _PLAIN)
