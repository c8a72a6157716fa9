"""events partitioned by day on PostgreSQL, event_keys for dedupe across days, cluster in keys

Revision ID: 0007_partitions
Revises: 0005
Create Date: 2026-12-02

PostgreSQL (SQLite has no partitioning: there this only adds an `event_keys` that stays empty,
so both backends have the same tables). An existing `events`
is converted: renamed aside, a partitioned `events` made LIKE it (same columns, defaults, the
same id sequence, lz4 payload compression where it was set), one partition per UTC day its rows
cover plus today and DEFAULT_AHEAD_DAYS ahead, the rows copied over in id order (ids kept), the
old table dropped. Time: one pass over the table (about what `COPY` of it takes); it runs under
an ACCESS EXCLUSIVE lock on `events`, so stop the recorder first on a large store.

Keys (recorder/partitions.py says why): `events` is unique on (cluster, dedupe_key,
observed_at) and its primary key is (id, observed_at, cluster); `event_keys` holds the keys of
rows with a resource_version, written by the writer in the same transaction (a per-row trigger
did the same at 0.8x the writer's rows/s: benchmarks/partitioned_ingest.py). The primary keys
of facts and of the replay_* projections get `cluster` too, so every unique key of a table
docs/citus.md distributes by cluster includes it (Alembic does not compare primary keys; the
models keep the SQLite ones, whose autoincrement needs a one-column key).

Privileges: the new tables are re-granted to gapwatch_reader and gapwatch_writer (0005).
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from gapwatch.recorder import partitions
from gapwatch.recorder.tables import UTCDateTime

revision: str = "0007_partitions"
down_revision: str | None = "0006_projector"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Constraint and index names of `events` before (0001) and after; renamed aside while copying.
_OLD_NAMES = {
    "pk_events": "constraint",
    "uq_events_cluster_dedupe_key": "constraint",
    "ix_events_cluster_observed_at": "index",
    "ix_events_cluster_kind_namespace_name_id": "index",
}
_NEW_NAMES = {**_OLD_NAMES, "uq_events_cluster_dedupe_key_observed_at": "constraint"}
del _NEW_NAMES["uq_events_cluster_dedupe_key"]
#: Primary keys that get `cluster` on PostgreSQL: table -> its columns before.
_CLUSTER_KEYS = {
    "facts": ("event_id", "seq"),
    "replay_windows": ("id",),
    "replay_rollouts": ("id",),
    "replay_lags": ("id",),
    "replay_segments": ("id",),
}


def _grants(tables: str, writer: str) -> str:
    """GRANTs to the roles 0005 made, when they exist; `writer` the writer's statements."""
    return f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gapwatch_reader') THEN
        GRANT SELECT ON {tables} TO gapwatch_reader;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gapwatch_writer') THEN
        {writer}
    END IF;
END $$
"""


#: UPDATE on events only because LOCK TABLE ... IN EXCLUSIVE MODE requires it (0005).
_WRITER_EVENTS = "GRANT SELECT, INSERT, UPDATE ON events TO gapwatch_writer;"
_GRANTS = _grants(
    "events, event_keys", _WRITER_EVENTS + " GRANT SELECT, INSERT ON event_keys TO gapwatch_writer;"
)


def _rename_aside(suffix: str, names: dict[str, str]) -> None:
    op.execute(f"ALTER TABLE events RENAME TO events_{suffix}")
    for name, what in names.items():
        if what == "constraint":
            op.execute(f"ALTER TABLE events_{suffix} RENAME CONSTRAINT {name} TO {name}_{suffix}")
        else:
            op.execute(f"ALTER INDEX {name} RENAME TO {name}_{suffix}")


def _copy_from(suffix: str) -> None:
    op.execute(f"INSERT INTO events SELECT * FROM events_{suffix} ORDER BY id")
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    op.execute(f"DROP TABLE events_{suffix}")


def _indexes() -> None:
    op.execute("CREATE INDEX ix_events_cluster_observed_at ON events (cluster, observed_at)")
    op.execute(
        "CREATE INDEX ix_events_cluster_kind_namespace_name_id "
        "ON events (cluster, kind, namespace, name, id) WHERE resource_version IS NOT NULL"
    )


def _set_primary_keys(with_cluster: bool) -> None:
    for table, columns in _CLUSTER_KEYS.items():
        key = (*columns, "cluster") if with_cluster else columns
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(key)})")


def _create_event_keys() -> None:
    op.create_table(
        "event_keys",
        sa.Column("cluster", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=32), nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("cluster", "dedupe_key", name=op.f("pk_event_keys")),
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        _create_event_keys()  # stays empty: there `events` is unique on (cluster, dedupe_key)
        return
    op.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
    _rename_aside("0005", _OLD_NAMES)
    op.execute(
        "CREATE TABLE events (LIKE events_0005 INCLUDING DEFAULTS INCLUDING COMPRESSION) "
        "PARTITION BY RANGE (observed_at)"
    )
    op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id, observed_at, cluster)")
    op.execute(
        "ALTER TABLE events ADD CONSTRAINT uq_events_cluster_dedupe_key_observed_at "
        "UNIQUE (cluster, dedupe_key, observed_at)"
    )
    _indexes()
    op.execute(f"CREATE TABLE {partitions.DEFAULT_PARTITION} PARTITION OF events DEFAULT")
    _create_event_keys()
    conn = bind
    days = set(
        conn.execute(
            sa.text("SELECT DISTINCT (observed_at AT TIME ZONE 'UTC')::date FROM events_0005")
        ).scalars()
    )
    today = datetime.now(UTC).date()
    days |= {today + timedelta(days=d) for d in range(partitions.DEFAULT_AHEAD_DAYS + 1)}
    for day in sorted(days):
        partitions.create_day(conn, day)
    _copy_from("0005")
    op.execute(
        "INSERT INTO event_keys (cluster, dedupe_key, observed_at) "
        "SELECT cluster, dedupe_key, observed_at FROM events WHERE resource_version IS NOT NULL"
    )
    op.execute(_GRANTS)
    _set_primary_keys(with_cluster=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.drop_table("event_keys")
        return
    _set_primary_keys(with_cluster=False)
    op.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
    op.drop_table("event_keys")
    _rename_aside("0007", _NEW_NAMES)
    op.execute("CREATE TABLE events (LIKE events_0007 INCLUDING DEFAULTS INCLUDING COMPRESSION)")
    op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id)")
    op.execute(
        "ALTER TABLE events ADD CONSTRAINT uq_events_cluster_dedupe_key "
        "UNIQUE (cluster, dedupe_key)"
    )
    _indexes()
    _copy_from("0007")
    op.execute(_grants("events", _WRITER_EVENTS))
