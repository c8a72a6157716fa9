"""PostgreSQL: gapwatch_writer may use only the sequences of the tables it writes

Revision ID: 0013_writer_sequences
Revises: 0012_sqlite_event_ids
Create Date: 2026-12-06

Migrations 0005 and 0006 granted the recorder's group `USAGE ON ALL SEQUENCES IN SCHEMA`, which
took in the sequences of replay's projections (the `id` of `replay_windows`, `replay_lags` and
`replay_segments`): a recorder's login could `nextval` them, which no recorder does (the
projections are gapwatch_replayer's, migration 0010). This revokes every sequence from
gapwatch_writer and grants USAGE again on those the tables it inserts into own (WRITTEN:
`events`, `quarantine`, `projector_failures`; `facts` and `source_checkpoints` have none).
gapwatch_replayer keeps its own three (0010), gapwatch_reader never had any. A later migration
that re-creates one of these tables grants its sequence again. SQLite has no roles: a no-op.
Downgrade gives the writer every sequence again, as 0006 left it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_writer_sequences"
down_revision: str | None = "0012_sqlite_event_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRITER = "gapwatch_writer"
#: The tables the recorder inserts into whose `id` a sequence numbers (serial or identity).
WRITTEN = ("events", "quarantine", "projector_failures")


def _as_writer(body: str) -> str:
    """`body` (PL/pgSQL, `t` a text variable) run when the role exists; SQLite has none."""
    return f"""
DO $$
DECLARE t text;
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{WRITER}') THEN
{body}
    END IF;
END $$
"""


_REVOKE_ALL = (
    f"        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM {WRITER}',"
    " current_schema());"
)
_GRANT_OWN = f"""        FOREACH t IN ARRAY ARRAY{list(WRITTEN)!r} LOOP
            EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {WRITER}',
                pg_get_serial_sequence(format('%I.%I', current_schema(), t), 'id'));
        END LOOP;"""
_GRANT_ALL = (
    f"        EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO {WRITER}',"
    " current_schema());"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_as_writer(_REVOKE_ALL + "\n" + _GRANT_OWN))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_as_writer(_GRANT_ALL))
