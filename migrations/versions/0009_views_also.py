"""v_windows shows `also` (the other classes a window's samples allow) and `class_text`

Revision ID: 0009_views_also
Revises: 0008_window_also
Create Date: 2026-12-02

The views list their columns (0002), so replay_windows.also (0008) did not reach v_windows. The
view is re-created with `also` (as stored: comma-separated, "" when the evidence decides) and
`class_text`, the wording every table and report uses (replay.model.class_text):
`closed-before-deregistered (or registered-before-forwarding: undecided)`. `class` stays the
main class. SQLite has no CREATE OR REPLACE VIEW, so the view is dropped and created on both
backends; on PostgreSQL gapwatch_reader (0005) is granted SELECT on it again explicitly.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_views_also"
down_revision: str | None = "0008_window_also"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READER = "gapwatch_reader"
#: v_windows as 0002 created it; 0009 inserts its two columns after `class`.
_BEFORE = """
SELECT w.id, w.cluster, w.namespace || '/' || w.service AS service, w.node, w.class,{extra}
       w.start_at, w.end_at, w.duration_s, w.duration_min_s, w.duration_max_s,
       w.provenance, w.certain, w.rollout, w.failed_requests, w.opened_by, w.closed_by,
       w.start_us, w.end_us
FROM replay_windows w
"""
_ALSO = """
       w.also,
       CASE WHEN w.also = '' THEN w.class
            ELSE w.class || ' (or ' || replace(w.also, ',', ' or ') || ': undecided)'
       END AS class_text,"""
_GRANT = f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}') THEN
        EXECUTE 'GRANT SELECT ON v_windows TO {READER}';
    END IF;
END $$
"""


def _recreate(extra: str) -> None:
    op.execute("DROP VIEW IF EXISTS v_windows")
    op.execute(f"CREATE VIEW v_windows AS {_BEFORE.format(extra=extra).strip()}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT)


def upgrade() -> None:
    _recreate(_ALSO)


def downgrade() -> None:
    _recreate("")
