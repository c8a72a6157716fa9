"""projector_positions and projector_failures: facts derived by a projector following events by id

Revision ID: 0006_projector
Revises: 0005
Create Date: 2026-12-02

Until now the writer derived replay's facts inside its own transaction. The projector
(recorder/projector.py) derives them after the events commit, tracking how far it got in
`projector_positions`. Every event already stored had its facts written with it, so the `facts`
projector starts at the highest event id (nothing to re-derive).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_projector"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WRITER = "gapwatch_writer"
READER = "gapwatch_reader"


def _grants(statements: list[str]) -> str:
    body = "\n".join(f"        EXECUTE format('{s}', current_schema());" for s in statements)
    return f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{WRITER}') THEN
{body}
    END IF;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "projector_positions",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projector_positions")),
    )
    op.create_table(
        "projector_failures",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("cluster", sa.Text(), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projector_failures")),
        sa.UniqueConstraint("name", "event_id", name=op.f("uq_projector_failures_name_event_id")),
    )
    op.execute(
        "INSERT INTO projector_positions (name, position, updated_at) "
        "SELECT 'facts', coalesce(max(id), 0), CURRENT_TIMESTAMP FROM events"
    )
    if op.get_bind().dialect.name == "postgresql":
        # the recorder's login runs the projector: it moves the position and records failures
        op.execute(_grants([
            f"GRANT SELECT, INSERT, UPDATE ON %I.projector_positions TO {WRITER}",
            f"GRANT SELECT, INSERT ON %I.projector_failures TO {WRITER}",
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO {WRITER}",  # projector_failures.id
        ]))  # fmt: skip


def downgrade() -> None:
    op.drop_table("projector_failures")
    op.drop_table("projector_positions")
