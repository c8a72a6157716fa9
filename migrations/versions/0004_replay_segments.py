"""replay_segments: lane segments materialized per Service, read by time range

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "replay_segments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("cluster", sa.Text(), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("node", sa.Text(), nullable=False),
        sa.Column("lane", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=True),
        sa.Column("start_earliest_us", sa.BigInteger(), nullable=False),
        sa.Column("start_latest_us", sa.BigInteger(), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("reach_before_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_segments")),
    )
    op.create_index(
        op.f("ix_replay_segments_lane_start"),
        "replay_segments",
        ["cluster", "namespace", "service", "node", "lane", "start_us", "seq"],
    )
    # the projections of an existing store hold no segments yet: the next refresh recomputes
    # every Service (replay.projections.refresh from event id 0)
    op.execute("DELETE FROM replay_state WHERE key = 'last_event_id'")


def downgrade() -> None:
    op.drop_table("replay_segments")
