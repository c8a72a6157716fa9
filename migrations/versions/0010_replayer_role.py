"""on PostgreSQL a NOLOGIN role gapwatch_replayer that may write replay's projections, no more

Revision ID: 0010_replayer_role
Revises: 0009_views_also
Create Date: 2026-12-04

Every dashboard page but the SQL console first brings replay's projections up to the facts
(replay.behind: `LOCK TABLE replay_state IN EXCLUSIVE MODE`, then DELETE, INSERT and COPY into
the projection tables), and until now only their owner, the migration login, could: the
read-only console login got `permission denied for table replay_state`, and running a web pod
as the owner would give it DDL. gapwatch_replayer holds exactly what a refresh needs:

- SELECT, INSERT, UPDATE, DELETE on the projection tables (PROJECTIONS): INSERT and DELETE are
  what a refresh does, UPDATE only because `LOCK TABLE ... IN EXCLUSIVE MODE` requires UPDATE,
  DELETE or TRUNCATE (PostgreSQL's LOCK reference), SELECT for the DELETEs' WHERE clauses;
- USAGE on their sequences (the `id` of windows, lags and segments: nextval);
- USAGE on the schema.

Nothing on `events`, `facts` or any other table, and no CREATE: its logins read the rest as
members of gapwatch_reader (deploy/sql/roles.sql's gapwatch_dashboard). Facts behind the log stay
behind (replay.catchup answers from the facts there are, with a warning): deriving them is the
recorder's. Advisory locks need no grant. As in 0005 the role is created if the migrating login
may (else a DBA runs deploy/sql/roles.sql and the upgrade is re-run) and never dropped: roles
belong to the server. A later migration that re-creates one of these tables grants it again.
SQLite has no roles: a no-op there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_replayer_role"
down_revision: str | None = "0009_views_also"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPLAYER = "gapwatch_replayer"
#: The tables a projection refresh writes (replay/tables.py).
PROJECTIONS = (
    "replay_windows",
    "replay_rollouts",
    "replay_lags",
    "replay_segments",
    "replay_state",
)
_ARRAY = "ARRAY[" + ", ".join(f"'{t}'" for t in PROJECTIONS) + "]"
#: The sequences the projection tables own (serial or identity columns), in this schema.
_SEQUENCES = f"""
        FOR seq IN
            SELECT s.oid::regclass::text FROM pg_class s
            JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
            JOIN pg_class t ON t.oid = d.refobjid
            WHERE s.relkind = 'S' AND t.relnamespace = current_schema()::regnamespace
              AND t.relname = ANY ({_ARRAY})
        LOOP
            EXECUTE format('{{verb}} USAGE ON SEQUENCE %s {{to}} {REPLAYER}', seq);
        END LOOP;"""


def _if_role(body: str, create: bool = False) -> str:
    """A DO block running `body` when the role exists; with `create`, creating it first if the
    migrating login may (else a DBA runs deploy/sql/roles.sql, then the upgrade again)."""
    creating = f"""
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{REPLAYER}') THEN
        BEGIN
            CREATE ROLE {REPLAYER} NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;  -- created concurrently
            WHEN insufficient_privilege THEN RAISE WARNING
                'cannot create role {REPLAYER}: run deploy/sql/roles.sql, then upgrade again';
        END;
    END IF;"""
    if not create:
        creating = ""
    return f"""
DO $$
DECLARE
    seq text;
BEGIN{creating}
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{REPLAYER}') THEN
{body}
    END IF;
END $$
"""


def _tables(statement: str) -> str:
    return "\n".join(
        f"        EXECUTE format('{statement}', current_schema(), '{table}');"
        for table in PROJECTIONS
    )


_GRANT = _if_role(
    f"        EXECUTE format('GRANT USAGE ON SCHEMA %I TO {REPLAYER}', current_schema());\n"
    + _tables(f"GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I TO {REPLAYER}")
    + _SEQUENCES.format(verb="GRANT", to="TO"),
    create=True,
)
_REVOKE = _if_role(
    _tables(f"REVOKE ALL ON %I.%I FROM {REPLAYER}")
    + _SEQUENCES.format(verb="REVOKE", to="FROM")
    + f"\n        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM {REPLAYER}', current_schema());"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_REVOKE)
