"""What a refresh sends PostgreSQL (round 14 of issue 15): its writes in a fixed number of round
trips whatever the number of rows (the stale rows' DELETEs in one pipeline, few new rows as
INSERTs in one pipeline, replay_state as one upsert), the positions read in one statement, and
the touched Services found from the checkpoint's new rows, not from a second read of the facts.

Round trips are counted from libpq's protocol trace (each ReadyForQuery, and each COPY's
CopyInResponse, is the client waiting for the server), never timed. Each cut is also checked
for what it writes: the rows equal a rebuild, on both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projection_rows, projections, row_diff, state_rows
from gapwatch.replay.checkpoint import Checkpoint, _new_rows
from gapwatch.replay.facts import write_facts
from gapwatch.replay.lags import LagSample
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.projection_rows import diff_columns, insert_all, lag_row, window_row
from gapwatch.replay.tables import replay_lags, replay_rollouts, replay_state, replay_windows
from tests.pgtrace import connection_trace, engine_trace, waits
from tests.replay.test_projections import _tables

SVC = ServiceRef("trips", "ns", "gw")


@contextmanager
def round_trips(conn: Connection) -> Iterator[Callable[[], int]]:
    """The times the connection waits for PostgreSQL inside the block (read after it)."""
    with connection_trace(conn) as lines:
        yield lambda: waits(lines)


def _window(node: str, start: int, rollout: str | None = None) -> Window:
    return Window(
        service=SVC, node=node, cls="closed-before-deregistered", start_us=start,
        end_us=start + 5, start_earliest_us=start, start_latest_us=start,
        end_earliest_us=start + 5, end_latest_us=start + 5, provenance="measured",
        opened_by=(1,), closed_by=(2,), certain=True, rollout=rollout,
    )  # fmt: skip


def _as_tuples(rows: list[dict[str, Any]], table: Any) -> list[tuple[Any, ...]]:
    columns = diff_columns(table, "id")
    return [tuple(r[c] for c in columns) for r in rows]


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _windows_and_lags() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """40 windows (4 of them stored twice; half with a NULL rollout, half in one) and 30 lag
    rows."""
    windows = [window_row(_window(f"n{i % 7}", i * 10, None if i % 2 else "ro-1"))
               for i in range(40)]  # fmt: skip
    windows += windows[:4]
    lags = [lag_row(LagSample(SVC, f"n{i % 3}", "proxy", i * 7, 0.5 + i, True))
            for i in range(30)]  # fmt: skip
    return windows, lags


@pytest.mark.postgres
def test_deleting_many_rows_by_content_takes_one_round_trip(pg_url: str) -> None:
    """44 windows' DELETEs by content (copies, NULL columns) and 30 lag rows': one round trip
    for a table, and one for both (main sent one statement per distinct row)."""
    engine = make_engine(pg_url)
    windows, lags = _windows_and_lags()
    with engine.begin() as conn:
        insert_all(conn, [(replay_windows, windows), (replay_lags, lags)])
        w_cols, l_cols = diff_columns(replay_windows, "id"), diff_columns(replay_lags, "id")
        with round_trips(conn) as one_table:
            assert row_diff.delete_matching(conn, replay_windows, "id", SVC, w_cols,
                                            _as_tuples(windows[:30], replay_windows))  # fmt: skip
        assert one_table() == 1
        assert _count(conn, "replay_windows") == 14
        with round_trips(conn) as both:
            assert row_diff.delete_all_matching(
                conn,
                [
                    (replay_windows, "id", SVC, w_cols, _as_tuples(windows[30:], replay_windows)),
                    (replay_lags, "id", SVC, l_cols, _as_tuples(lags, replay_lags)),
                ],
            )
        assert both() == 1
        assert _count(conn, "replay_windows") == _count(conn, "replay_lags") == 0
    engine.dispose()


def test_deletes_by_content_say_when_a_row_was_not_stored(engine: Engine) -> None:
    """Each job deletes one stored row per row it names (two copies stored, two named: both
    go; one of three: one goes); a job naming a row the store lacks answers False, though the
    other jobs' rows are deleted (the caller then diffs against the store)."""
    windows, lags = _windows_and_lags()
    w_cols, l_cols = diff_columns(replay_windows, "id"), diff_columns(replay_lags, "id")
    twice = _as_tuples(windows[:1], replay_windows) * 2  # stored twice (windows[40])
    with engine.begin() as conn:
        insert_all(conn, [(replay_windows, windows + windows[:1]), (replay_lags, lags)])
        assert row_diff.delete_all_matching(
            conn,
            [
                (replay_windows, "id", SVC, w_cols, twice),
                (replay_lags, "id", SVC, l_cols, _as_tuples(lags[:5], replay_lags)),
            ],
        )
        assert _count(conn, "replay_windows") == 43 and _count(conn, "replay_lags") == 25
        missing = _as_tuples([window_row(_window("n9", 999))], replay_windows)
        assert not row_diff.delete_all_matching(
            conn,
            [
                (replay_lags, "id", SVC, l_cols, _as_tuples(lags[5:10], replay_lags)),
                (replay_windows, "id", SVC, w_cols, missing),
            ],
        )
        assert _count(conn, "replay_lags") == 20
        # a lag job that finds its rows and a window job that does not, the other way round
        assert not row_diff.delete_all_matching(
            conn,
            [
                (replay_windows, "id", SVC, w_cols, missing),
                (replay_lags, "id", SVC, l_cols, _as_tuples(lags[10:12], replay_lags)),
            ],
        )
        assert _count(conn, "replay_lags") == 18


def _rollout(rollout_id: str) -> dict[str, Any]:
    return {"id": rollout_id, "cluster": SVC.cluster, "namespace": SVC.namespace,
            "service": SVC.name, "kind": "rollout", "workload": "w", "revision_from": None,
            "revision_to": "b", "start_at": window_row(_window("n1", 0))["start_at"],
            "end_at": window_row(_window("n1", 9))["start_at"], "start_us": 0, "end_us": 9,
            "windows": 1, "gap_seconds": 1.0, "worst_window_s": 1.0, "nodes": "n1",
            "failed_requests": None}  # fmt: skip


@pytest.mark.postgres
def test_few_new_rows_of_several_tables_take_one_round_trip(pg_url: str) -> None:
    """Windows, a rollout and lags inserted together: one round trip (three COPYs took two
    each); a table past PIPELINED_ROWS goes by COPY (two round trips), the few rows of the
    others still in one pipeline, the same rows either way."""
    engine = make_engine(pg_url)
    windows, lags = _windows_and_lags()
    rollout = _rollout("ro-1")
    batches = [(replay_windows, windows), (replay_rollouts, [rollout]), (replay_lags, lags)]
    with engine.begin() as conn:
        conn.execute(text("SELECT 1"))  # the transaction's BEGIN: not the inserts' round trip
        with round_trips(conn) as few:
            insert_all(conn, batches)
        assert few() == 1
        piped = _stored(conn)
    with engine.begin() as conn:
        for table in ("replay_windows", "replay_rollouts", "replay_lags"):
            conn.execute(text(f"DELETE FROM {table}"))
        before = projection_rows.PIPELINED_ROWS
        projection_rows.PIPELINED_ROWS = 35  # the 44 windows by COPY, the 30 lags not
        try:
            with round_trips(conn) as many:
                insert_all(conn, batches)
        finally:
            projection_rows.PIPELINED_ROWS = before
        assert many() == 3  # the windows' COPY (its CopyInResponse and its end), the pipeline
        assert _stored(conn) == piped
    engine.dispose()


@pytest.mark.postgres
def test_a_refresh_writes_many_new_rows_of_a_table_by_copy(pg_url: str) -> None:
    """200 new windows (what 1,000 probe events of benchmarks/replay.py bring) go by COPY, not
    as 200 INSERTs in a pipeline (200 segment rows: 7.5 against 2.4 ms on a durable server):
    the windows' COPY and the rollout's pipeline, three round trips; the rows are those given."""
    engine = make_engine(pg_url)
    windows = [window_row(_window(f"n{i % 20}", i * 10)) for i in range(200)]
    rollout = _rollout("ro-2")
    with engine.begin() as conn:
        conn.execute(text("SELECT 1"))
        with connection_trace(conn) as lines:
            insert_all(conn, [(replay_windows, windows), (replay_rollouts, [rollout])])
        assert waits(lines) == 3
        assert _count(conn, "replay_windows") == 200
        assert _count(conn, "replay_rollouts") == 1
    engine.dispose()


def _stored(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table in (replay_windows, replay_rollouts, replay_lags):
        cols = ", ".join(diff_columns(table, "id") + ["start_at"] * ("start_at" in table.c))
        out[table.name] = sorted(
            (tuple(r) for r in conn.execute(text(f"SELECT {cols} FROM {table.name}"))),
            key=repr,
        )
    return out


def test_state_rows_are_set_in_one_statement(engine: Engine) -> None:
    """replay_state keys set whether stored or not (an upsert), others left alone; on
    PostgreSQL one round trip for any number of keys (a delete then an insert took two)."""
    with engine.begin() as conn:
        state_rows.put(conn, {"a": 1, "b": 2, "keep": 7})
        if engine.dialect.name == "postgresql":
            with round_trips(conn) as trips:
                state_rows.put(conn, {"a": 10, **{f"k{i}": i for i in range(50)}})
            assert trips() == 1
        else:
            state_rows.put(conn, {"a": 10, **{f"k{i}": i for i in range(50)}})
        rows: dict[str, int] = dict(conn.execute(text("SELECT key, value FROM replay_state")).all())
    assert rows == {"a": 10, "b": 2, "keep": 7, **{f"k{i}": i for i in range(50)}}
    assert replay_state.c.key.primary_key


def _simulated(engine: Engine) -> tuple[EventWriter, list[Any]]:
    observations = list(run(load_scenario("aws-nlb"), seed=3).observations)
    return EventWriter(engine, derive=write_facts), observations


def test_the_touched_services_found_from_the_new_rows_are_the_stores(engine: Engine) -> None:
    """`_affected` from a checkpoint's new rows (every fact after a `since` at or before the
    projections' last event) equals the store's answer for every cut of a simulated run."""
    writer, observations = _simulated(engine)
    writer.write_all(observations)
    with engine.connect() as conn:
        newest = int(conn.execute(text("SELECT max(event_id) FROM facts")).scalar_one())
        for after in range(0, newest, max(1, newest // 23)):
            for since in {0, after // 2, after}:
                rows = _new_rows(conn, since, newest)
                assert projections._affected(conn, after, rows) == projections._affected(
                    conn, after
                )


def test_a_refresh_that_deletes_updates_and_inserts_in_one_batch_equals_a_rebuild(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A simulated run refreshed from a checkpoint in batches of 29 events: at least one batch
    deletes stale windows and segments and inserts new ones through the batched writes (a
    node's window replaced by the one it became: deleted and inserted in the same batch);
    after every batch the rows equal a rebuild's."""
    seen: list[dict[str, int]] = [{}]  # per write: rows deleted (-table), inserted (+table)
    updated: list[set[str]] = [set()]  # per refresh: nodes whose window was replaced
    deletes, inserts = row_diff.delete_all_matching, projection_rows.insert_all
    node = diff_columns(replay_windows, "id").index("node")
    gone: set[str] = set()

    def counting_deletes(conn: Connection, jobs: Any) -> bool:
        for table, _key, _svc, _cols, rows in jobs:
            seen[-1][f"-{table.name}"] = seen[-1].get(f"-{table.name}", 0) + len(rows)
            if table is replay_windows:
                gone.update(r[node] for r in rows)
        return deletes(conn, jobs)

    def counting_inserts(conn: Connection, batches: Any) -> None:
        for table, rows in batches:
            seen[-1][f"+{table.name}"] = seen[-1].get(f"+{table.name}", 0) + len(rows)
            if table is replay_windows:
                updated[-1].update(gone & {r["node"] for r in rows})
        inserts(conn, batches)

    monkeypatch.setattr(row_diff, "delete_all_matching", counting_deletes)
    monkeypatch.setattr("gapwatch.replay.row_changes.insert_all", counting_inserts)
    monkeypatch.setattr(projection_rows, "insert_all", counting_inserts)
    writer, observations = _simulated(engine)
    writer.write(observations[:200])
    checkpoint = Checkpoint()
    projections.rebuild(engine, checkpoint=checkpoint)
    for i in range(200, len(observations), 29):
        writer.write(observations[i : i + 29])
        seen.append({})
        updated.append(set())
        gone.clear()
        assert projections.refresh(engine, checkpoint=checkpoint) > 0
        refreshed = _tables(engine)
        projections.rebuild(engine)  # the same rows again: what the checkpoint keeps holds
        assert _tables(engine) == refreshed
    both = [s for s in seen if s.get("-replay_windows") and s.get("+replay_windows")
            and s.get("-replay_segments") and s.get("+replay_segments")]  # fmt: skip
    assert both, seen
    assert any(updated), seen


@pytest.mark.postgres
def test_a_look_at_a_current_store_is_one_round_trip_a_projection(pg_url: str) -> None:
    """A refresh of a current store looks at both projections' positions (the windows', the
    settings reads'): one statement each, outside a transaction on PostgreSQL (no BEGIN, no
    ROLLBACK: main took three round trips a look, and two statements), and writes nothing."""
    engine = make_engine(pg_url)
    writer, observations = _simulated(engine)
    writer.write(observations[:100])
    projections.refresh(engine)
    before = _tables(engine)
    with engine_trace(engine) as lines:
        assert projections.refresh(engine) == 0
    engine.dispose()
    sent = [ln.split("\t")[2] for ln in lines if ln.startswith("F\t")]
    waits = [ln for ln in lines if ln.startswith("B") and "\tReadyForQuery" in ln]
    assert len(waits) == 2 and sent.count("Execute") + sent.count("Query") == 2, lines
    assert not any("BEGIN" in ln or "ROLLBACK" in ln for ln in lines)
    assert _tables(make_engine(pg_url)) == before
