"""What can be proven here of the Citus path (docs/citus.md), on a real PostgreSQL:

1. every table has one place (distributed by cluster, reference, coordinator-local);
2. every unique key and index of a distributed table includes `cluster` (day partitions too);
3. no query the replay or the dashboard runs joins rows of two clusters: a store holding two
   clusters is replayed, read through replay's API and every dashboard page (AppTest), its CLI
   reports; every statement sent to the server is captured (`before_cursor_execute` on every
   Engine) and parsed with sqlglot, and every join that reads a distributed table must equate
   that table's `cluster` with the other side's, or pin it to one value. The views' SQL too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlalchemy import Engine, event, inspect, text
from sqlglot import exp
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app as cli
from gapwatch.dashboard.demo import simulate_into
from gapwatch.recorder.distribution import COORDINATOR_LOCAL, DISTRIBUTED, REFERENCE
from gapwatch.recorder.partitions import PARTITION_TABLE
from gapwatch.recorder.store import make_engine
from gapwatch.replay import api

pytestmark = pytest.mark.postgres

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
CLUSTERS = ("east", "west")


def test_every_table_has_exactly_one_place(pg_url: str) -> None:
    engine = make_engine(pg_url)
    tables = {t for t in inspect(engine).get_table_names() if not PARTITION_TABLE.match(t)}
    placed = [*DISTRIBUTED, *REFERENCE, *COORDINATOR_LOCAL]
    assert len(placed) == len(set(placed))
    assert tables == set(placed)


def _indexes(engine: Engine) -> dict[str, dict[str, list[str]]]:
    """{table: {index: its columns}} for every distributed table and every day partition."""
    query = text(
        """
SELECT t.relname, i.relname, array_agg(a.attname::text ORDER BY k.ord)
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE t.relnamespace = current_schema()::regnamespace
GROUP BY t.relname, i.relname"""
    )
    out: dict[str, dict[str, list[str]]] = {}
    with engine.connect() as conn:
        for table, index, columns in conn.execute(query):
            if table in DISTRIBUTED or PARTITION_TABLE.match(table):
                out.setdefault(table, {})[index] = list(columns)
    return out


def test_every_unique_key_and_index_of_a_distributed_table_includes_cluster(pg_url: str) -> None:
    engine = make_engine(pg_url)
    found = _indexes(engine)
    assert set(DISTRIBUTED) <= set(found)  # each has a key at least
    assert any(PARTITION_TABLE.match(t) for t in found)
    missing = {
        f"{table}.{index}{columns}"
        for table, indexes in found.items()
        for index, columns in indexes.items()
        if "cluster" not in columns
    }
    assert not missing


# --- joins ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_clusters(pg_template: str | None) -> Iterator[str]:
    from tests.conftest import _require_pg, drop_pg_database, new_pg_database

    url = new_pg_database(_require_pg(pg_template))
    engine = make_engine(url)
    for cluster in CLUSTERS:
        simulate_into(engine, "seed-3node", cluster)
    engine.dispose()
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="module")
def captured(two_clusters: str) -> list[str]:
    """Every statement the replay and the dashboard sent while working on the store."""
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        _exercise(two_clusters)
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    return statements


def _exercise(url: str) -> None:
    engine = make_engine(url)
    api.refresh(engine)
    services = api.services(engine)
    assert {s.cluster for s in services} == set(CLUSTERS)
    api.windows(engine)
    for service in services:
        rollouts = api.rollouts(engine, cluster=service.cluster)
        assert rollouts
        api.timeline(engine, service)
        api.advise(engine, service)
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPWATCH_DB", url)
    try:
        for page in ("overview", "rollout", "whatif"):
            at = AppTest.from_file(APP, default_timeout=60)
            at.query_params["page"] = page
            at.query_params["cluster"] = "east"
            at.run()
            assert not at.exception, [e.value for e in at.exception]
    finally:
        mp.undo()
    runner = CliRunner()
    for args in (["gaps"], ["rollouts"], ["replay"]):
        result = runner.invoke(cli, [*args, "--db", url])
        assert result.exit_code == 0, result.output
    engine.dispose()


DISTRIBUTED_SET = set(DISTRIBUTED)


def _cluster_of(node: object, alias: str) -> bool:
    return isinstance(node, exp.Column) and node.name == "cluster" and node.table == alias


def _pins_cluster(condition: exp.Expression | None, alias: str) -> bool:
    """Whether `condition` equates `alias`.cluster with another cluster column or one value."""
    if condition is None:
        return False
    for eq in condition.find_all(exp.EQ):
        left, right = eq.left, eq.right
        for mine, other in ((left, right), (right, left)):
            if _cluster_of(mine, alias) and (
                (isinstance(other, exp.Column) and other.name == "cluster")
                or isinstance(other, exp.Placeholder | exp.Literal)
            ):
                return True
    return False


def cross_cluster_joins(sql: str) -> list[str]:
    """The joins of `sql` that may pair rows of two clusters (see the module docstring)."""
    bad = []
    for tree in sqlglot.parse(sql, read="postgres"):
        if tree is None:
            continue
        for join in tree.find_all(exp.Join):
            joined = join.this
            if not isinstance(joined, exp.Table) or joined.name not in DISTRIBUTED_SET:
                continue
            alias = joined.alias_or_name
            using = [c.name for c in join.args.get("using") or []]
            select = join.find_ancestor(exp.Select)
            where = select.args.get("where") if select is not None else None
            if "cluster" in using or _pins_cluster(join.args.get("on"), alias):
                continue
            if where is not None and _pins_cluster(where.this, alias):
                continue
            bad.append(f"{joined.sql('postgres')}: {join.sql('postgres')[:200]}")
    return bad


def test_the_checker_catches_a_join_across_clusters() -> None:
    assert cross_cluster_joins("SELECT * FROM facts f JOIN events e ON e.id = f.event_id")
    assert cross_cluster_joins("SELECT * FROM facts f, events e WHERE e.id = f.event_id")
    assert not cross_cluster_joins(
        "SELECT * FROM facts f JOIN events e ON e.id = f.event_id AND e.cluster = f.cluster"
    )
    assert not cross_cluster_joins("SELECT * FROM facts f JOIN events e USING (cluster, id)")
    assert not cross_cluster_joins(
        "SELECT * FROM k JOIN replay_segments s ON s.id = k.id AND s.cluster = %(c)s"
    )


def test_no_query_of_the_replay_or_dashboard_joins_across_clusters(
    captured: list[str], two_clusters: str
) -> None:
    reads = [s for s in captured if "facts" in s or "replay_" in s or "events" in s]
    assert len(reads) > 50, "the replay and the pages must have read the store"
    assert any(" JOIN " in s.upper() for s in captured), "some statements join"
    bad = {b for s in captured for b in cross_cluster_joins(s)}
    assert not bad
    with make_engine(two_clusters).connect() as conn:
        views = conn.execute(text("SELECT viewname, definition FROM pg_views "
                                  "WHERE schemaname = current_schema()")).all()  # fmt: skip
    assert views
    assert not {b for _, body in views for b in cross_cluster_joins(body)}
