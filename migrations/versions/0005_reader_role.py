"""quarantine table; on PostgreSQL a NOLOGIN gapwatch_reader role that may only SELECT

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

The SQL console and `gapwatch sql` run every query under `SET LOCAL ROLE gapwatch_reader`
(dashboard/sqlguard.py). Roles belong to the whole server, so the role is created once (if the
migrating user may create roles; otherwise a DBA runs `CREATE ROLE gapwatch_reader NOLOGIN` and
the upgrade is re-run) and never dropped by a downgrade: other databases may use it.
Role-specific settings (`ALTER ROLE ... SET`) are not applied by `SET ROLE`, so the limits are
set per transaction by the guard, not here.
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

_CREATE_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}') THEN
        BEGIN
            CREATE ROLE {READER} NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;  -- created concurrently
            WHEN insufficient_privilege THEN
                RAISE WARNING 'cannot create role {READER}: ask a DBA to run CREATE ROLE '
                    '{READER} NOLOGIN, then re-run the grants in docs/sql.md';
        END;
    END IF;
END $$
"""

_GRANT = f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO {READER}', current_schema());
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO {READER}', current_schema());
        EXECUTE format(
            'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO {READER}',
            current_schema()
        );
    END IF;
END $$
"""

_REVOKE = f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}') THEN
        EXECUTE format(
            'ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE SELECT ON TABLES FROM {READER}',
            current_schema()
        );
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {READER}', current_schema());
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM {READER}', current_schema());
    END IF;
END $$
"""


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
        op.execute(_CREATE_ROLE)
        op.execute(_GRANT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_REVOKE)
    op.drop_table("quarantine")
