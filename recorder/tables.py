"""The store's schema: one MetaData shared by the code and by the Alembic migrations.

`events` is the append-only log (never updated; rows leave only by retention, whole days at a
time: recorder/partitions.py);
`source_checkpoints` holds each source's resume point, written in the same transaction as the
events it covers. Replay's read model (`facts`, `replay_*`) is defined in replay/tables.py on this
same MetaData, so Alembic sees one schema.
Every key starts with `cluster` so the log can be distributed by cluster (Citus) later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from gapwatch.recorder.partitions import PARTITION_TABLE

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """timestamptz on Postgres; on SQLite a sortable text in UTC. Always returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; gapwatch stores aware UTC times")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


#: An integer identity that autoincrements on both backends (SQLite needs plain INTEGER).
IdType = BigInteger().with_variant(Integer(), "sqlite")
JsonType = JSON().with_variant(JSONB(), "postgresql")


def only_on(dialect: str) -> dict[str, Any]:
    """`info` for a table, constraint or index that exists on one backend only (migration 0007)."""
    return {"only_on": dialect}


def compared(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's include_object for `dialect`: leave out what exists on the other backend only,
    and the day partitions of `events` (tables the models do not list, recorder/partitions.py)."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and reflected and name and PARTITION_TABLE.match(name):
            return False
        only = getattr(obj, "info", {}).get("only_on")
        return only is None or only == dialect

    return include


events = Table(
    "events",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("cluster", Text, nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),
    Column("source", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("op", Text, nullable=False),
    Column("namespace", Text, nullable=True),
    Column("name", Text, nullable=True),
    Column("node", Text, nullable=True),
    Column("source_time", UTCDateTime, nullable=True),
    Column("resource_version", Text, nullable=True),
    Column("previous_observed_at", UTCDateTime, nullable=True),
    Column("dedupe_key", String(32), nullable=False),
    Column("payload", JsonType, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False, server_default=func.now()),
    # Dedupe (recorder/partitions.py): SQLite has the plain key; PostgreSQL's partitioned table
    # must have its partition key in every unique key, and adds `event_keys` for the rest.
    # On PostgreSQL the primary key is (id, observed_at, cluster) for the same reason and for
    # Citus (docs/citus.md); Alembic does not compare primary keys.
    UniqueConstraint("cluster", "dedupe_key", info=only_on("sqlite")),
    UniqueConstraint("cluster", "dedupe_key", "observed_at", info=only_on("postgresql")),
    Index(None, "cluster", "observed_at"),
    # Object history (latest state of a Kubernetes object, a relist diff after a restart). Partial:
    # probes and LB samples, most of the rows, have no resourceVersion and skip this index.
    Index(
        None,
        "cluster",
        "kind",
        "namespace",
        "name",
        "id",
        postgresql_where=text("resource_version IS NOT NULL"),
        sqlite_where=text("resource_version IS NOT NULL"),
    ),
    # SQLite: ids from above the largest ever handed out, not the largest left (migration 0012:
    # a retention that deleted every event made the next ones reuse ids the projectors passed)
    sqlite_autoincrement=True,
)

#: PostgreSQL: the dedupe keys of rows with a resource_version (Kubernetes object changes,
#: deduplicated whenever they were seen) across day partitions; written by the writer (0007).
#: Empty on SQLite, where `events` itself is unique on (cluster, dedupe_key).
event_keys = Table(
    "event_keys",
    metadata,
    Column("cluster", Text, primary_key=True),
    Column("dedupe_key", String(32), primary_key=True),
    Column("observed_at", UTCDateTime, nullable=False),
)

source_checkpoints = Table(
    "source_checkpoints",
    metadata,
    Column("cluster", Text, primary_key=True),
    Column("source", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("value", JsonType, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: Columns an Observation fills, in table order: every column but those the database fills
#: (the identity and `recorded_at`). The writer's COPY, staging table and SQLite INSERT use it.
EVENT_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in events.columns if not c.primary_key and c.server_default is None
)

#: COPY's name for each column type gapwatch uses (psycopg's `copy.set_types`).
_COPY_TYPES: tuple[tuple[type[Any], str], ...] = (
    (UTCDateTime, "timestamptz"),
    (JSON, "jsonb"),
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Float, "float8"),
    (String, "text"),  # Text is a String
)


def copy_types(table: Table, names: Sequence[str]) -> list[str]:
    """The binary COPY type of each named column of `table` (for psycopg's set_types)."""
    out = []
    for name in names:
        column_type = table.c[name].type
        found = next((pg for cls, pg in _COPY_TYPES if isinstance(column_type, cls)), None)
        if found is None:
            raise TypeError(f"{table.name}.{name}: no COPY type for {column_type!r}")
        out.append(found)
    return out


#: Observations the writer could not store even alone (recorder/quarantine.py): the observation
#: as NDJSON, why it failed, when. Recording goes on; an operator reads and replays them.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("cluster", Text, nullable=True),
    Column("quarantined_at", UTCDateTime, nullable=False),
    Column("error", Text, nullable=False),
    Column("observation", Text, nullable=False),
)

#: How far each projector (recorder/projector.py) has followed `events` by id: every event with
#: an id at or below `position` has been projected (or recorded in projector_failures). Written
#: in the same transaction as what the projector derives, so a position never runs ahead of it.
#: Which code derived the rows (migration 0011): `revision` (recorder/coderev.py) moved the
#: position last and left it at `revision_at`; events in (`other_from`, `other_to`] had theirs
#: derived by other code; `rederived` counts the re-derivations of such ranges done.
projector_positions = Table(
    "projector_positions",
    metadata,
    Column("name", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("revision", BigInteger, nullable=True),
    Column("revision_at", BigInteger, nullable=True),
    Column("other_from", BigInteger, nullable=False, server_default="0"),
    Column("other_to", BigInteger, nullable=False, server_default="0"),
    Column("rederived", BigInteger, nullable=False, server_default="0"),
)

#: Events a projector could not derive from even alone: skipped (the log keeps them), with why.
projector_failures = Table(
    "projector_failures",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("cluster", Text, nullable=True),
    Column("failed_at", UTCDateTime, nullable=False),
    Column("error", Text, nullable=False),
    UniqueConstraint("name", "event_id"),
)
