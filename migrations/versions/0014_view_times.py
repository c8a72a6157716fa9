"""the views give times to the microsecond on SQLite and v_rollouts.duration_s as a float

Revision ID: 0014_view_times
Revises: 0013_writer_sequences
Create Date: 2026-12-06

0002 computed `v_rollouts.duration_s` as `(end_us - start_us) / 1000000.0`: on PostgreSQL a
bigint over a numeric constant is `numeric` (psql prints `12.7865850000000000`, Python gets a
`Decimal`) where every other seconds column of the views is a float (`v_windows.duration_s`,
`v_lags.seconds`). It is now `double precision` on both backends.

On SQLite 0002 printed `v_lane_samples.observed_at` / `previous_observed_at` and `v_lags.at`
with strftime's `%f`, which stops at milliseconds, where every stored time is to the
microsecond (`*_us`, and the `*_at` columns SQLAlchemy writes: `2026-01-01 00:01:12.250563`).
They are now the second's text and the `*_us` column's last six digits, the same shape as those
columns. PostgreSQL's `to_timestamp(us / 1000000.0)` was exact already and is not touched.

Only the views whose definition changes on the backend are re-created: SQLite has no CREATE OR
REPLACE VIEW, and PostgreSQL's cannot change a column's type. A view dropped loses its grants
(gapwatch_reader's and gapwatch_writer's SELECT, 0005, and any a DBA added): on PostgreSQL they
are read from the view's ACL before the drop and granted again after the create, in both
directions.
"""

import re
from collections.abc import Sequence
from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision: str = "0014_view_times"
down_revision: str | None = "0013_writer_sequences"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Every grant on a relation but its owner's own: (privilege, grantee, grantable).
_ACL = """
SELECT a.privilege_type,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
       a.is_grantable
FROM pg_class c, aclexplode(c.relacl) a
WHERE c.oid = to_regclass(:name) AND a.grantee <> c.relowner
ORDER BY 2, 1
"""


#: 0002's SQLite time (strftime's %f: milliseconds) and v_rollouts' duration (numeric on PG).
_MILLIS = re.compile(r"strftime\('%Y-%m-%d %H:%M:%f', (\S+) / 1000000\.0, 'unixepoch'\)")
_NUMERIC = "(r.end_us - r.start_us) / 1000000.0 AS duration_s"
_DOUBLE = "CAST(r.end_us - r.start_us AS DOUBLE PRECISION) / 1000000 AS duration_s"


def _exact(match: re.Match[str]) -> str:
    """The second's text and the column's last six digits: both exact on an INTEGER column."""
    column = match.group(1)
    return (
        f"strftime('%Y-%m-%d %H:%M:%S', {column} / 1000000, 'unixepoch')"
        f" || '.' || printf('%06d', {column} % 1000000)"
    )


def _views(dialect: str) -> dict[str, tuple[str, str]]:
    """The three views as 0002 created them and as 0014 does: {name: (0002's, 0014's)}."""
    made = import_module("gapwatch.migrations.versions.0002_facts_projections")._views(dialect)
    if _NUMERIC not in made["v_rollouts"]:
        raise RuntimeError(f"v_rollouts is not defined as this migration expects: {_NUMERIC}")
    return {
        name: (made[name], _MILLIS.sub(_exact, made[name]).replace(_NUMERIC, _DOUBLE))
        for name in ("v_lane_samples", "v_rollouts", "v_lags")
    }


def _recreate(*, exact: bool) -> None:
    """Drop and create each view whose definition differs between 0002 and 0014 here."""
    conn = op.get_bind()
    dialect = conn.dialect.name
    for name, (old, new) in _views(dialect).items():
        if old == new:
            continue
        body = new if exact else old
        grants: list[tuple[str, str, bool]] = []
        if dialect == "postgresql":
            grants = [(r[0], r[1], r[2]) for r in conn.execute(sa.text(_ACL), {"name": name})]
        op.execute(f"DROP VIEW IF EXISTS {name}")
        op.execute(f"CREATE VIEW {name} AS {body.strip()}")
        for privilege, grantee, grantable in grants:
            option = " WITH GRANT OPTION" if grantable else ""
            op.execute(f"GRANT {privilege} ON {name} TO {grantee}{option}")


def upgrade() -> None:
    _recreate(exact=True)


def downgrade() -> None:
    _recreate(exact=False)
