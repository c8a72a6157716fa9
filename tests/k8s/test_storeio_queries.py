"""What a recorder's start reads back (recorder/sources/k8s/storeio.py), on SQLite and PostgreSQL:
the newest row a watch recorded of each object, even where an import wrote a newer one, and
queries that the partial object-history index (recorder/tables.py) can serve.

Sizes and times are in benchmarks/resume_queries.py (200,000 rows); here the plans are read with
sequential scans disabled on PostgreSQL, which shows whether an index *can* serve a statement
(the planner's choice on a real store depends on its statistics), and SQLite's `EXPLAIN QUERY
PLAN` as it is.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from benchmarks.resume_queries import captured
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.k8s.resources import to_observation
from gapwatch.recorder.sources.k8s.storeio import load_last, load_resume_times, load_start
from gapwatch.recorder.tables import source_checkpoints
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
OBJECT_INDEX = "cluster_kind_namespace_name_id"


def _pod(name: str, rv: int, minutes: int, op: str = "MODIFIED", source: str = "") -> Observation:
    obj = {"metadata": {"namespace": "shop", "name": name, "resourceVersion": str(rv)}}
    at = T0 + timedelta(minutes=minutes)
    obs = to_observation(cluster="c", kind="Pod", op=op, obj=obj, observed_at=at)
    return replace(obs, source=source) if source else obs


def _store(engine: Engine) -> None:
    rows = [
        _pod("a", 5, 1),
        _pod("a", 9, 2, source="k8s-audit"),  # an audit import, newer than the watch's row
        _pod("b", 6, 1),
        _pod("b", 6, 3, op="DELETED"),
        _pod("c", 8, 4, source="k8s-audit"),  # only imported
        _pod("d", 7, 5),
    ]
    assert EventWriter(engine, derive=write_facts).write(rows).inserted == len(rows)
    with engine.begin() as conn:
        conn.execute(
            source_checkpoints.insert().values(
                cluster="c", source="k8s-watch", key="Pod", value={"resourceVersion": "9"},
                updated_at=T0,
            )
        )  # fmt: skip


def test_the_newest_rows_are_the_watchs_even_where_an_import_wrote_later(
    engine: Engine,
) -> None:
    _store(engine)
    _, known, objects = load_start(engine, cluster="c", streams=[("Pod", None)], objects_of=["Pod"])
    # a: the watch's rv 5, not the import's 9; b: deleted; c: never watched; d: as stored
    assert {k: v.rv for k, v in known[("Pod", None)].items()} == {
        ("shop", "a"): "5",
        ("shop", "d"): "7",
    }
    assert len(objects[("Pod", None)]) == 2
    keys = [("shop", n) for n in "abcd"]
    last = load_last(engine, cluster="c", kind="Pod", namespace=None, keys=keys)
    assert {k: (r.op, r.rv) for k, r in last.items()} == {
        ("shop", "a"): ("MODIFIED", "5"),
        ("shop", "b"): ("DELETED", "6"),
        ("shop", "d"): ("MODIFIED", "7"),
    }
    # the unstamped checkpoint starts at the newest row the watch stored (d at 5 min)
    times = load_resume_times(engine, cluster="c", streams=[("Pod", None)])
    assert times == {"Pod": T0 + timedelta(minutes=5)}


def _plan(engine: Engine, statement: str, params: Any) -> str:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            cur.execute("SET enable_seqscan = off")
            cur.execute("EXPLAIN " + statement, params)
        else:
            cur.execute("EXPLAIN QUERY PLAN " + statement, params)
        return "\n".join(" ".join(str(c) for c in row) for row in cur.fetchall())
    finally:
        raw.close()


def test_the_start_queries_can_use_the_object_history_index(engine: Engine) -> None:
    _store(engine)
    with captured(engine) as seen:
        load_start(engine, cluster="c", streams=[("Pod", None), ("Pod", "shop")])
        load_last(engine, cluster="c", kind="Pod", namespace=None, keys=[("shop", "a")])
        load_resume_times(engine, cluster="c", streams=[("Pod", None)])
    assert len(seen) >= 4
    for statement, params in seen:
        plan = _plan(engine, statement, params)
        # no statement reads every row; the newest row per object comes from the object index
        assert "Seq Scan" not in plan and "SCAN events\n" not in plan + "\n", plan
        if "GROUP BY" in statement:
            assert OBJECT_INDEX in plan, plan
