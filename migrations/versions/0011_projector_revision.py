"""projector_positions says which code derived the rows: revision, revision_at, other_from/_to

Revision ID: 0011_projector_revision
Revises: 0010_replayer_role
Create Date: 2026-12-06

Replay's projections carry the revision of the code that built them (replay/revision.py), the
facts did not: facts derived before an upgrade kept the old derive's reading (session 25's pod
state `unready`) and replay read them with the new rules, silently. The facts projector
(recorder/projector.py) now keeps, beside its position, the revision of the derive code that
moved it (`revision`, recorder/coderev.py), the position that code left (`revision_at`: a
position beyond it was moved by code that does not keep the revision, a recorder older than
this migration still running), the events whose rows other code derived
(`other_from` < id <= `other_to`; empty when equal), which the recorder re-derives in the
background, range by range from `other_from` up (or `gapwatch replay --rebuild --rederive` at
once), and `rederived`, counted up each time such a range is done (replay rebuilds its
projections when it moved: replay/projections.py). Every row is left with no revision: which
code derived the rows stored so far is not known, so the next step of the projector counts them
as other code's (none, on a store with no event yet).

The recorder's login (gapwatch_writer) writes these columns with the position: 0006 granted it
SELECT, INSERT, UPDATE on the whole table, which covers columns added later. To re-derive a
range it deletes that range's facts first: DELETE on `facts` is granted to it here (facts are
derived from the log, which it still may not delete from).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_projector_revision"
down_revision: str | None = "0010_replayer_role"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projector_positions") as table:
        table.add_column(sa.Column("revision", sa.BigInteger(), nullable=True))
        table.add_column(sa.Column("revision_at", sa.BigInteger(), nullable=True))
        table.add_column(
            sa.Column("other_from", sa.BigInteger(), nullable=False, server_default="0")
        )
        table.add_column(sa.Column("other_to", sa.BigInteger(), nullable=False, server_default="0"))
        table.add_column(
            sa.Column("rederived", sa.BigInteger(), nullable=False, server_default="0")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_writer("GRANT DELETE ON %I.facts TO gapwatch_writer"))


def _writer(statement: str) -> str:
    return f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gapwatch_writer') THEN
        EXECUTE format('{statement}', current_schema());
    END IF;
END $$
"""


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_writer("REVOKE DELETE ON %I.facts FROM gapwatch_writer"))
    with op.batch_alter_table("projector_positions") as table:
        for name in ("rederived", "other_to", "other_from", "revision_at", "revision"):
            table.drop_column(name)
