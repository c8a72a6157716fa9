"""The projections' rows: windows, rollouts and lag samples as stored, written whole (a rebuild)
or as a diff against what the Service has stored (a refresh: replay.row_diff)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert

from gapwatch.recorder.timefmt import from_micros
from gapwatch.replay import kept_rows, row_diff
from gapwatch.replay.lags import LagSample
from gapwatch.replay.model import Rollout, ServiceRef, Window
from gapwatch.replay.tables import replay_lags, replay_rollouts, replay_windows

#: columns derived from others (compared through those), and the Service's own
_DERIVED = frozenset({"cluster", "namespace", "service", "start_at", "end_at"})


def _of(svc: ServiceRef) -> dict[str, str]:
    return {"cluster": svc.cluster, "namespace": svc.namespace, "service": svc.name}


def window_row(w: Window) -> dict[str, Any]:
    return {
        **_of(w.service),
        "node": w.node,
        "class": w.cls,
        "start_at": from_micros(w.start_us),
        "end_at": from_micros(w.end_us),
        "start_us": w.start_us,
        "end_us": w.end_us,
        "start_earliest_us": w.start_earliest_us,
        "start_latest_us": w.start_latest_us,
        "end_earliest_us": w.end_earliest_us,
        "end_latest_us": w.end_latest_us,
        "duration_s": w.duration_s,
        "duration_min_s": w.duration_min_s,
        "duration_max_s": w.duration_max_s,
        "provenance": w.provenance,
        "certain": int(w.certain),
        "opened_by": ",".join(str(i) for i in w.opened_by),
        "closed_by": ",".join(str(i) for i in w.closed_by),
        "rollout": w.rollout,
        "failed_requests": w.failed_requests,
        "also": ",".join(w.also),
    }


def rollout_row(r: Rollout) -> dict[str, Any]:
    failed = [w.failed_requests for w in r.windows if w.failed_requests is not None]
    return {
        "id": r.id,
        **_of(r.service),
        "kind": r.kind,
        "workload": r.workload,
        "revision_from": r.revision_from,
        "revision_to": r.revision_to,
        "start_at": from_micros(r.start_us),
        "end_at": from_micros(r.end_us),
        "start_us": r.start_us,
        "end_us": r.end_us,
        "windows": len(r.windows),
        "gap_seconds": r.gap_seconds,
        "worst_window_s": max((w.duration_s for w in r.windows), default=0.0),
        "nodes": ",".join(r.nodes),
        "failed_requests": sum(failed) if failed else None,
    }


def lag_row(s: LagSample) -> dict[str, Any]:
    return {
        **_of(s.service),
        "node": s.node,
        "lag": s.lag,
        "at_us": s.at_us,
        "seconds": s.seconds,
    }


def write_rows(
    conn: Connection,
    windows: Sequence[Window],
    rollouts: Sequence[Rollout],
    lags: Sequence[LagSample],
    diff: ServiceRef | None = None,
) -> None:
    """Insert the rows (a rebuild, after emptying the tables); with `diff`, the one Service
    they all belong to, replace its stored rows by them, touching only the rows that differ."""
    for table, key, rows in (
        (replay_windows, "id", [window_row(w) for w in windows]),
        (replay_rollouts, "id", [rollout_row(r) for r in rollouts]),
        (replay_lags, "id", [lag_row(s) for s in lags]),
    ):
        if diff is not None:
            rows = _changed(conn, table, key, diff, rows)
        if rows:
            bulk_insert(conn, table, rows)


def _changed(
    conn: Connection, table: Table, key: str, svc: ServiceRef, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Delete the Service's stored rows that `rows` no longer hold; the rows to insert."""
    columns = diff_columns(table, key)
    tuples = [tuple(r[c] for c in columns) for r in rows]
    wanted = dict(zip(tuples, rows, strict=True))
    floor = kept_rows.floor(conn, table, svc.cluster)
    stale, new = row_diff.stale_and_new(conn, table, key, svc, columns, tuples, floor=floor)
    row_diff.delete_keys(conn, table, key, stale)
    return [wanted[t] for t in new]


def diff_columns(table: Table, key: str) -> list[str]:
    """The columns that say what a stored row is (row_diff compares them)."""
    columns = [c.name for c in table.columns if c.name not in _DERIVED and c.name != key]
    if table is replay_rollouts:  # its key is a content hash: part of what the row is
        columns.insert(0, key)
    return columns


#: on PostgreSQL, a table with up to this many new rows has them sent as INSERTs, in one
#: pipeline with the other such tables' (one round trip for all); a table with more sends them
#: by COPY, which waits twice but costs the server and psycopg far less a row: 200 rows of
#: replay_segments took 7.5 ms as pipelined INSERTs and 2.4 ms by COPY (0.5 ms of CPU instead
#: of 2.5), 20 rows 0.76 and 0.31 ms (one durable PG 15 at load 4.6; a refresh of 1,000 probe
#: events of benchmarks/replay.py writes 200 windows and 420 lane segments)
PIPELINED_ROWS = 50


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """`insert_all` of one table's rows."""
    insert_all(conn, [(table, rows)])


def insert_all(conn: Connection, batches: Sequence[tuple[Table, list[dict[str, Any]]]]) -> None:
    """Insert each table's rows (dicts with the same keys): executemany on SQLite; on
    PostgreSQL by COPY for each table with more than PIPELINED_ROWS rows, the INSERTs of the
    others in one pipeline."""
    batches = [(table, rows) for table, rows in batches if rows]
    if not batches:
        return
    if conn.dialect.name != "postgresql":
        for table, rows in batches:
            conn.execute(insert(table), rows)
        return
    raw: Any = conn.connection.driver_connection
    few = [(table, rows) for table, rows in batches if len(rows) <= PIPELINED_ROWS]
    if few:
        with row_diff.pipeline(raw), raw.cursor() as cur:
            for table, rows in few:
                columns = list(rows[0])
                sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
                       f"VALUES ({', '.join(['%s'] * len(columns))})")  # fmt: skip
                cur.executemany(sql, [[row[c] for c in columns] for row in rows])
    for table, rows in batches:
        if len(rows) <= PIPELINED_ROWS:
            continue
        columns = list(rows[0])
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([row[c] for c in columns])
