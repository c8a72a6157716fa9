"""Rewrite one Service's projection rows as a diff: delete the stored rows that are no longer
wanted, insert the wanted rows not stored yet, leave the rest alone.

A refresh recomputes a touched Service whole, but new facts mostly change its last windows,
segments and lag samples (and the rollouts still open), so the write costs what changed, not the
Service's history. The comparison is on the columns that say what a row is (`columns`; not its
surrogate id nor values derived from those columns, such as `start_at` from `start_us`), as a
multiset: two equal rows stored once each stay two rows. On PostgreSQL the DELETEs of a write
(one per distinct stale row) go in one pipeline: one round trip whatever their number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import Connection, Table, delete

from gapwatch.replay.model import ServiceRef


def stale_and_new(
    conn: Connection,
    table: Table,
    key: str,
    svc: ServiceRef,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    nodes: Sequence[str] | None = None,
    floor: tuple[str, int] | None = None,
) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """The `key` values (the table's primary key) of the Service's stored rows (of `nodes`;
    None: all) that `rows` (tuples of `columns`) no longer hold, and the rows not stored yet;
    `floor` (column, value): the stored rows whose column is below it are left out (the rows
    of a span retention dropped: replay.kept_rows)."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = (f"SELECT {key}, {', '.join(columns)} FROM {table.name} "
           f"WHERE cluster = {mark} AND namespace = {mark} AND service = {mark}")  # fmt: skip
    params: list[Any] = [svc.cluster, svc.namespace, svc.name]
    if nodes is not None:
        sql += f" AND node IN ({', '.join([mark] * len(nodes))})"
        params += nodes
    if floor is not None:
        sql += f" AND {floor[0]} >= {mark}"
        params.append(floor[1])
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:  # the driver's plain tuples: this runs on every refresh of every touched Service
        cursor.execute(sql, params)
        stored: dict[tuple[Any, ...], list[Any]] = {}
        for r in cursor.fetchall():
            stored.setdefault(tuple(r[1:]), []).append(r[0])
    finally:
        cursor.close()
    new: list[tuple[Any, ...]] = []
    for row in rows:
        ids = stored.get(row)
        if ids:
            ids.pop()
        else:
            new.append(row)
    return [i for ids in stored.values() for i in ids], new


def delete_keys(conn: Connection, table: Table, key: str, ids: Sequence[Any]) -> None:
    column = table.c[key]
    for i in range(0, len(ids), 10_000):
        conn.execute(delete(table).where(column.in_(ids[i : i + 10_000])))


def pipeline(raw: Any) -> AbstractContextManager[Any]:
    """psycopg's pipeline mode on a driver connection (statements sent without waiting for
    each answer: one round trip), or nothing where libpq lacks it (before 14): executemany
    then waits for each statement, with the same results."""
    import psycopg  # only on PostgreSQL (a SQLite store's commands never load the driver)

    return raw.pipeline() if psycopg.Pipeline.is_supported() else nullcontext()


#: one `delete_matching` job: table, its key, the Service, the columns, the rows (tuples)
Job = tuple[Table, str, ServiceRef, Sequence[str], Sequence[tuple[Any, ...]]]


def delete_matching(
    conn: Connection,
    table: Table,
    key: str,
    svc: ServiceRef,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> bool:
    """Delete one of the Service's stored rows per row of `rows` (tuples of `columns`, matched
    by content: equal rows are interchangeable); whether each found one (False: the store did
    not hold what the caller thought, and the caller rewrites the Service's rows as a diff)."""
    return delete_all_matching(conn, [(table, key, svc, columns, rows)])


def delete_all_matching(conn: Connection, jobs: Sequence[Job]) -> bool:
    """`delete_matching` of every job; whether each found all its rows. One statement per
    distinct row (with a LIMIT of its copies); on PostgreSQL all of them in one pipeline: one
    round trip instead of one per row (a refresh deletes tens of rows, each a few tens of
    microseconds of server time and a round trip of hundreds on a loaded machine)."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    pending: list[tuple[str, list[list[Any]], int]] = []  # (sql, params, job index)
    wanted: list[int] = []
    for i, (table, key, svc, columns, rows) in enumerate(jobs):
        wanted.append(len(rows))
        batches: dict[tuple[bool, ...], list[list[Any]]] = {}
        for row, copies in Counter(rows).items():
            nulls = tuple(v is None for v in row)
            params = [svc.cluster, svc.namespace, svc.name, *(v for v in row if v is not None),
                      copies]  # fmt: skip
            batches.setdefault(nulls, []).append(params)
        for nulls, params in batches.items():
            match = " AND ".join(
                f"{c} IS NULL" if null else f"{c} = {mark}"
                for c, null in zip(columns, nulls, strict=True)
            )
            sql = (f"DELETE FROM {table.name} WHERE {key} IN (SELECT {key} FROM {table.name} "
                   f"WHERE cluster = {mark} AND namespace = {mark} AND service = {mark} "
                   f"AND {match} LIMIT {mark})")  # fmt: skip
            pending.append((sql, params, i))
    if not pending:
        return True
    deleted = [0] * len(jobs)
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        cursors = []
        with pipeline(raw):
            for sql, params, i in pending:
                cur = raw.cursor()
                cur.executemany(sql, params)  # its rowcount: the total (psycopg 3)
                cursors.append((cur, i))
        for cur, i in cursors:
            deleted[i] += cur.rowcount
            cur.close()
        return deleted == wanted
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for sql, params, i in pending:
            for one in params:  # executemany's rowcount is not the total on every driver
                cursor.execute(sql, one)
                deleted[i] += cursor.rowcount
    finally:
        cursor.close()
    return deleted == wanted
