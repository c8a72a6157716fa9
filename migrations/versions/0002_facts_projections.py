"""facts (narrow rows for replay), projections (windows, rollouts, lags), SQL views

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gapwatch.recorder.tables import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
VIEWS = ("v_lane_samples", "v_windows", "v_rollouts", "v_lags")


def _ts(column: str, dialect: str) -> str:
    """SQL turning a microsecond column into a timestamp the backend shows as one."""
    if dialect == "postgresql":
        return f"to_timestamp({column} / 1000000.0)"
    return f"strftime('%Y-%m-%d %H:%M:%f', {column} / 1000000.0, 'unixepoch')"


def _views(dialect: str) -> dict[str, str]:
    return {
        "v_lane_samples": f"""
SELECT f.event_id, f.cluster, f.namespace, f.name AS service, f.node,
       CASE f.fact WHEN 'slice' THEN 'endpoints' WHEN 'target' THEN 'lb' ELSE 'proxy' END AS lane,
       f.fact AS source,
       CASE WHEN f.fact <> 'slice' THEN f.state
            WHEN f.num1 > 0 THEN 'ready'
            WHEN f.num2 > 0 THEN 'serving-terminating'
            ELSE 'none' END AS state,
       {_ts("f.at_us", dialect)} AS observed_at,
       {_ts("f.prev_us", dialect)} AS previous_observed_at,
       f.at_us, f.prev_us
FROM facts f
WHERE f.fact IN ('health', 'nodeport', 'target') OR (f.fact = 'slice' AND f.node IS NOT NULL)
""",
        "v_windows": """
SELECT w.id, w.cluster, w.namespace || '/' || w.service AS service, w.node, w.class,
       w.start_at, w.end_at, w.duration_s, w.duration_min_s, w.duration_max_s,
       w.provenance, w.certain, w.rollout, w.failed_requests, w.opened_by, w.closed_by,
       w.start_us, w.end_us
FROM replay_windows w
""",
        "v_rollouts": """
SELECT r.id, r.cluster, r.namespace || '/' || r.service AS service, r.kind, r.workload,
       r.revision_from, r.revision_to, r.start_at, r.end_at,
       (r.end_us - r.start_us) / 1000000.0 AS duration_s,
       r.windows, r.gap_seconds, r.worst_window_s, r.nodes, r.failed_requests
FROM replay_rollouts r
""",
        "v_lags": f"""
SELECT l.cluster, l.namespace || '/' || l.service AS service, l.node, l.lag,
       {_ts("l.at_us", dialect)} AS at, l.seconds
FROM replay_lags l
""",
    }


def upgrade() -> None:
    op.create_table(
        "facts",
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cluster", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("prev_us", sa.BigInteger(), nullable=True),
        sa.Column("src_us", sa.BigInteger(), nullable=True),
        sa.Column("fact", sa.Text(), nullable=False),
        sa.Column("op", sa.Text(), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("node", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        *(sa.Column(f"num{i}", sa.BigInteger(), nullable=True) for i in range(1, 5)),
        *(sa.Column(f"text{i}", sa.Text(), nullable=True) for i in range(1, 4)),
        sa.PrimaryKeyConstraint("event_id", "seq", name=op.f("pk_facts")),
    )
    op.create_index(
        op.f("ix_facts_cluster_namespace_name_at_us"),
        "facts",
        ["cluster", "namespace", "name", "at_us"],
    )
    op.create_table(
        "replay_windows",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("cluster", sa.Text(), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("node", sa.Text(), nullable=False),
        sa.Column("class", sa.Text(), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        *(
            sa.Column(c, sa.BigInteger(), nullable=False)
            for c in (
                "start_us",
                "end_us",
                "start_earliest_us",
                "start_latest_us",
                "end_earliest_us",
                "end_latest_us",
            )
        ),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("duration_min_s", sa.Float(), nullable=False),
        sa.Column("duration_max_s", sa.Float(), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("certain", sa.Integer(), nullable=False),
        sa.Column("opened_by", sa.Text(), nullable=False),
        sa.Column("closed_by", sa.Text(), nullable=False),
        sa.Column("rollout", sa.Text(), nullable=True),
        sa.Column("failed_requests", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_windows")),
    )
    op.create_index(
        op.f("ix_replay_windows_cluster_namespace_service_start_us"),
        "replay_windows",
        ["cluster", "namespace", "service", "start_us"],
    )
    op.create_table(
        "replay_rollouts",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("cluster", sa.Text(), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("workload", sa.Text(), nullable=False),
        sa.Column("revision_from", sa.Text(), nullable=True),
        sa.Column("revision_to", sa.Text(), nullable=True),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("windows", sa.Integer(), nullable=False),
        sa.Column("gap_seconds", sa.Float(), nullable=False),
        sa.Column("worst_window_s", sa.Float(), nullable=False),
        sa.Column("nodes", sa.Text(), nullable=False),
        sa.Column("failed_requests", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_rollouts")),
    )
    op.create_index(
        op.f("ix_replay_rollouts_cluster_namespace_service_start_us"),
        "replay_rollouts",
        ["cluster", "namespace", "service", "start_us"],
    )
    op.create_table(
        "replay_lags",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("cluster", sa.Text(), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("node", sa.Text(), nullable=False),
        sa.Column("lag", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_lags")),
    )
    op.create_index(
        op.f("ix_replay_lags_cluster_namespace_service_at_us"),
        "replay_lags",
        ["cluster", "namespace", "service", "at_us"],
    )
    op.create_table(
        "replay_state",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_replay_state")),
    )
    dialect = op.get_bind().dialect.name
    for name, body in _views(dialect).items():
        op.execute(f"CREATE VIEW {name} AS {body.strip()}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    for table in ("replay_state", "replay_lags", "replay_rollouts", "replay_windows", "facts"):
        op.drop_table(table)
