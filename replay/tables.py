"""Replay's read model: the `facts` it folds and the `replay_*` projections it keeps.

Defined on recorder.tables.metadata, the one MetaData Alembic compares with the migrations
(migrations/env.py imports this module too). The recorder never imports this module: facts are
written by replay.facts.write_facts, the derive hook that the commands composing a writer hand it.
Every table is rebuildable from `events` (`gapwatch replay --rebuild --rederive`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Float, Index, Integer, Table, Text

from gapwatch.recorder.tables import IdType, UTCDateTime, metadata


def _service_node() -> list[Column[str]]:
    """The key every per-(Service, node) projection row starts with."""
    return [
        Column("cluster", Text, nullable=False),
        Column("namespace", Text, nullable=False),
        Column("service", Text, nullable=False),
        Column("node", Text, nullable=False),
    ]


def _span() -> list[Column[Any]]:
    """When a window or a rollout starts and ends: as times (for people), in us (for queries)."""
    return [
        Column("start_at", UTCDateTime, nullable=False),
        Column("end_at", UTCDateTime, nullable=False),
        Column("start_us", BigInteger, nullable=False),
        Column("end_us", BigInteger, nullable=False),
    ]


#: Narrow facts extracted once at ingest (replay/facts.py); replay reads these, not payloads.
#: Columns in replay.facts.Fact order (a test compares the two).
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
    *(Column(f"num{i}", BigInteger, nullable=True) for i in range(1, 5)),
    *(Column(f"text{i}", Text, nullable=True) for i in range(1, 4)),
    Index(None, "cluster", "namespace", "name", "at_us"),
)

#: Projection: gap windows (replay/projections.py), rebuildable from facts at any time.
replay_windows = Table(
    "replay_windows",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    *_service_node(),
    Column("class", Text, nullable=False),
    *_span(),
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
    # the other classes the samples allow (Window.also), comma-separated; "" when decided
    Column("also", Text, nullable=False, server_default=""),
    Index(None, "cluster", "namespace", "service", "start_us"),
)

#: Projection: rollouts and node disruptions with their gap totals.
replay_rollouts = Table(
    "replay_rollouts",
    metadata,
    Column("id", Text, primary_key=True),
    *_service_node()[:3],
    Column("kind", Text, nullable=False),
    Column("workload", Text, nullable=False),
    Column("revision_from", Text, nullable=True),
    Column("revision_to", Text, nullable=True),
    *_span(),
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
    *_service_node(),
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
    *_service_node(),
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
