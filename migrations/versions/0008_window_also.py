"""replay_windows.also: the other classes the samples allow beside a window's class

Revision ID: 0008_window_also
Revises: 0007_partitions
Create Date: 2026-12-02

A window whose cause the samples cannot decide names the other possible classes
(docs/semantics.md, "Undecided classes"), comma-separated; "" when the evidence decides. The
projection is rebuildable from facts, so existing rows get "" until the next rebuild.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_window_also"
down_revision: str | None = "0007_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("replay_windows", sa.Column("also", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("replay_windows", "also")
