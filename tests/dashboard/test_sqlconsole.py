"""The SQL console reads, and refuses to write, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from gapwatch.dashboard.errors import QueryError, QueryRejected, QueryTimeout
from gapwatch.dashboard.sqlconsole import describe_relations, run_query, to_csv
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.tables import events
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts

T = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
FOREVER = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


def _fill(engine: Engine, n: int = 30) -> None:
    EventWriter(engine, derive=write_facts).write(
        [
            Observation(
                observed_at=T + timedelta(seconds=i),
                cluster="c1",
                source="kube-proxy-probe",
                kind="ProxyHealth",
                op="OBSERVED",
                node=f"n{i % 3}",
                namespace="istio-system",
                name="gw",
                payload={"status": 200 if i % 2 else 503, "body": {"localEndpoints": i % 2}},
            )
            for i in range(n)
        ]
    )


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_select_returns_columns_rows_and_csv(engine: Engine, console_url: str) -> None:
    _fill(engine)
    result = run_query(
        console_url,
        "SELECT node, count(*) AS n FROM events GROUP BY node ORDER BY node;",
    )
    assert result.columns == ["node", "n"]
    assert result.rows == [("n0", 10), ("n1", 10), ("n2", 10)]
    assert not result.truncated
    assert to_csv(result) == "node,n\nn0,10\nn1,10\nn2,10\n"


def test_row_limit_truncates(engine: Engine, console_url: str) -> None:
    _fill(engine)
    result = run_query(console_url, "SELECT id, payload FROM events ORDER BY id", row_limit=7)
    assert len(result.rows) == 7 and result.truncated
    assert '"localEndpoints"' in result.rows[0][1]  # JSON shown as text on both backends


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO events (cluster, observed_at, source, kind, op, dedupe_key, payload, "
        "recorded_at) SELECT cluster, observed_at, source, kind, op, 'x', payload, recorded_at "
        "FROM events LIMIT 1",
        "DROP TABLE events",
        "DELETE FROM events",
        "UPDATE events SET node = 'x'",
        "CREATE TABLE evil (x integer)",
        "SELECT 1; DROP TABLE events",
        "COMMIT; DELETE FROM events",
    ],
)
def test_writes_are_refused_and_nothing_changes(engine: Engine, console_url: str, sql: str) -> None:
    _fill(engine)
    with pytest.raises(QueryRejected):
        run_query(console_url, sql)
    assert _count(engine) == 30
    assert "evil" not in {r.name for r in describe_relations(engine)}


def test_a_long_query_is_cancelled(engine: Engine, console_url: str) -> None:
    with pytest.raises(QueryTimeout, match=r"cancelled after 0\.3 s"):
        run_query(console_url, FOREVER, timeout_s=0.3)
    # the console still works afterwards
    assert run_query(console_url, "SELECT count(*) FROM events").rows == [(0,)]


def test_bad_sql_is_a_clean_error(console_url: str) -> None:
    with pytest.raises(QueryError, match="nosuch"):
        run_query(console_url, "SELECT nosuch FROM events")
    with pytest.raises(QueryError, match="empty"):
        run_query(console_url, "  ;  ")


def test_relations_list_tables_with_columns(engine: Engine) -> None:
    rels = {r.name: r for r in describe_relations(engine)}
    assert rels["events"].kind == "table"
    cols = [c for c, _type in rels["events"].columns]
    assert cols[:3] == ["id", "cluster", "observed_at"]
    assert "alembic_version" not in rels


def test_relations_leave_out_the_day_partitions(engine: Engine) -> None:
    """On PostgreSQL `events` is partitioned by day (docs/retention.md): `events` reads them all,
    and the console listed each day's table too, today's and 7 days ahead from the start."""
    _fill(engine)
    names = {r.name for r in describe_relations(engine)}
    assert {"events", "facts", "v_windows"} <= names
    assert not {n for n in names if n.startswith("events_")}, names
