"""quarantine table; on PostgreSQL NOLOGIN roles gapwatch_reader (SELECT) and gapwatch_writer

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

The SQL console and `gapwatch sql` run every query under `SET LOCAL ROLE gapwatch_reader`
(dashboard/sqlguard.py). Roles belong to the whole server, so the role is created once (if the
migrating user may create roles; otherwise a DBA runs `CREATE ROLE gapwatch_reader NOLOGIN` and
the upgrade is re-run) and never dropped by a downgrade: other databases may use it.
Role-specific settings (`ALTER ROLE ... SET`) are not applied by `SET ROLE`, so the limits are
set per transaction by the guard, not here.

gapwatch_writer is what the recorder's login is a member of (deploy/sql/roles.sql): SELECT and
INSERT on the tables it fills, UPDATE on `source_checkpoints` (an upsert) and on `events` only
because `LOCK TABLE ... IN EXCLUSIVE MODE` requires it (gapwatch never updates an event). A later
migration that adds a table the recorder writes must grant it too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
READER = "gapwatch_reader"
WRITER = "gapwatch_writer"
#: Tables the recorder writes (events, its derived facts, checkpoints, the quarantine).
WRITTEN = ("events", "facts", "source_checkpoints", "quarantine")


def _create_role(role: str) -> str:
    return f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
        BEGIN
            CREATE ROLE {role} NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;  -- created concurrently
            WHEN insufficient_privilege THEN
                RAISE WARNING 'cannot create role {role}: ask a DBA to run '
                    'deploy/sql/roles.sql, then upgrade again';
        END;
    END IF;
END $$
"""


def _if_role(role: str, statements: list[str]) -> str:
    """A DO block running `statements` (format() patterns, %I the schema) when `role` exists;
    without it (a migrating login that may not create roles) deploy/sql/roles.sql comes first."""
    body = "\n".join(
        f"        EXECUTE format('{statement}', current_schema());" for statement in statements
    )
    return f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
{body}
    END IF;
END $$
"""


_GRANT = _if_role(READER, [
    f"GRANT USAGE ON SCHEMA %I TO {READER}",
    f"GRANT SELECT ON ALL TABLES IN SCHEMA %I TO {READER}",
    f"ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO {READER}",
])  # fmt: skip
_REVOKE = _if_role(READER, [
    f"ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE SELECT ON TABLES FROM {READER}",
    f"REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {READER}",
    f"REVOKE USAGE ON SCHEMA %I FROM {READER}",
])  # fmt: skip
_GRANT_WRITER = _if_role(WRITER, [
    f"GRANT USAGE ON SCHEMA %I TO {WRITER}",
    f"GRANT SELECT ON ALL TABLES IN SCHEMA %I TO {WRITER}",
    f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO {WRITER}",
    *(f"GRANT INSERT ON %I.{table} TO {WRITER}" for table in WRITTEN),
    f"GRANT UPDATE ON %I.source_checkpoints TO {WRITER}",
    f"GRANT UPDATE ON %I.events TO {WRITER}",
])  # fmt: skip
_REVOKE_WRITER = _if_role(WRITER, [
    f"REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {WRITER}",
    f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM {WRITER}",
    f"REVOKE USAGE ON SCHEMA %I FROM {WRITER}",
])  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("cluster", sa.Text(), nullable=True),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("observation", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_create_role(READER))
        op.execute(_create_role(WRITER))
        op.execute(_GRANT)
        op.execute(_GRANT_WRITER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_REVOKE)
        op.execute(_REVOKE_WRITER)
    op.drop_table("quarantine")
