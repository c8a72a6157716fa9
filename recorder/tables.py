"""The store's schema: one MetaData shared by the code and by the Alembic migrations.

`events` is the append-only log (never updated, never deleted from by gapwatch itself);
`source_checkpoints` holds each source's resume point, written in the same transaction as the
events it covers. Projections (windows, rollouts) add their own tables in later migrations.
Every key starts with `cluster` so the log can be distributed by cluster (Citus) later.
"""

from __future__ import annotations

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
    UniqueConstraint("cluster", "dedupe_key"),
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

#: Columns an Observation fills, in the order the writer sends them.
EVENT_COLUMNS: tuple[str, ...] = (
    "cluster",
    "observed_at",
    "source",
    "kind",
    "op",
    "namespace",
    "name",
    "node",
    "source_time",
    "resource_version",
    "previous_observed_at",
    "dedupe_key",
    "payload",
)

#: Narrow facts extracted once at ingest (recorder/facts.py); replay reads these, not payloads.
facts = Table(
    "facts",
    metadata,
    Column("event_id", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("cluster", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("prev_us", BigInteger, nullable=True),
    Column("src_us", BigInteger, nullable=True),
    Column("fact", Text, nullable=False),
    Column("op", Text, nullable=False),
    Column("namespace", Text, nullable=True),
    Column("name", Text, nullable=True),
    Column("node", Text, nullable=True),
    Column("state", Text, nullable=True),
    Column("num1", BigInteger, nullable=True),
    Column("num2", BigInteger, nullable=True),
    Column("num3", BigInteger, nullable=True),
    Column("num4", BigInteger, nullable=True),
    Column("text1", Text, nullable=True),
    Column("text2", Text, nullable=True),
    Column("text3", Text, nullable=True),
    Index(None, "cluster", "namespace", "name", "at_us"),
)

#: Projection: gap windows (replay/projections.py), rebuildable from facts at any time.
replay_windows = Table(
    "replay_windows",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("cluster", Text, nullable=False),
    Column("namespace", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("node", Text, nullable=False),
    Column("class", Text, nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("start_earliest_us", BigInteger, nullable=False),
    Column("start_latest_us", BigInteger, nullable=False),
    Column("end_earliest_us", BigInteger, nullable=False),
    Column("end_latest_us", BigInteger, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("duration_min_s", Float, nullable=False),
    Column("duration_max_s", Float, nullable=False),
    Column("provenance", Text, nullable=False),
    Column("certain", Integer, nullable=False),
    Column("opened_by", Text, nullable=False),
    Column("closed_by", Text, nullable=False),
    Column("rollout", Text, nullable=True),
    Column("failed_requests", Integer, nullable=True),
    Index(None, "cluster", "namespace", "service", "start_us"),
)

#: Projection: rollouts and node disruptions with their gap totals.
replay_rollouts = Table(
    "replay_rollouts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("cluster", Text, nullable=False),
    Column("namespace", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("workload", Text, nullable=False),
    Column("revision_from", Text, nullable=True),
    Column("revision_to", Text, nullable=True),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("windows", Integer, nullable=False),
    Column("gap_seconds", Float, nullable=False),
    Column("worst_window_s", Float, nullable=False),
    Column("nodes", Text, nullable=False),
    Column("failed_requests", Integer, nullable=True),
    Index(None, "cluster", "namespace", "service", "start_us"),
)

#: Projection: measured lag samples (kube-proxy programming, CCM register/deregister, LB health).
replay_lags = Table(
    "replay_lags",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("cluster", Text, nullable=False),
    Column("namespace", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("node", Text, nullable=False),
    Column("lag", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("seconds", Float, nullable=False),
    Index(None, "cluster", "namespace", "service", "at_us"),
)

#: Lane segments per (Service, node, lane) as replay.segments.lane_segments gives them for the
#: whole history; `seq` is their position in their lane, `reach_before_us` the latest end of the
#: lane's earlier segments (replay.segment_store reads a time range through them).
replay_segments = Table(
    "replay_segments",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("cluster", Text, nullable=False),
    Column("namespace", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("node", Text, nullable=False),
    Column("lane", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=True),
    Column("start_earliest_us", BigInteger, nullable=False),
    Column("start_latest_us", BigInteger, nullable=False),
    Column("provenance", Text, nullable=False),
    Column("event_id", BigInteger, nullable=True),
    Column("reach_before_us", BigInteger, nullable=True),
    Index(
        "ix_replay_segments_lane_start",
        "cluster",
        "namespace",
        "service",
        "node",
        "lane",
        "start_us",
        "seq",
    ),
)

#: Where the projections stand: the last event id they include.
replay_state = Table(
    "replay_state",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

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
