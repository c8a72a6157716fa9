"""Replay's PostgreSQL read: `COPY (SELECT ...) TO STDOUT` parsed by Arrow's C++ CSV reader, the
probe and LB samples folded as numpy columns (replay.foldbulk), the other facts as rows in event
order (replay.fold). replay.load.fold_stored imports it on a PostgreSQL store only: numpy and
pyarrow (about 0.18 s of CPU to import, benchmarks/README.md "Session 37: CI's time") are never
loaded by a command on a SQLite store. Importing it sets Arrow's memory pool
(`use_system_allocator`) before its first buffer."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection

from gapwatch.recorder.progresslines import counted
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.factsql import COLUMNS as _COLS
from gapwatch.replay.factsql import PG_TYPES as _PG_TYPES
from gapwatch.replay.factsql import bound as _bound
from gapwatch.replay.factsql import where as _where
from gapwatch.replay.fold import PROBE_FACTS, RESUME, FoldState, ProbeKey, fold
from gapwatch.replay.foldbulk import fold_probe_arrays
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.shortcircuit import NODEPORT


def use_system_allocator() -> None:
    """Arrow's buffers from the C library's malloc instead of pyarrow's bundled mimalloc, unless
    ARROW_DEFAULT_MEMORY_POOL chooses. In a new process mimalloc faulted in fresh pages for
    every large buffer of the first read: 1.2-2.1 s of system CPU on the first replay of 1M
    events (4.2-4.6 s against 3.1-3.3 s, peak 707 against 647-678 MB; later replays alike).
    A one-shot `gapwatch replay` is that first replay. A process that replays everything again
    and again keeps more with malloc (high-water 860 against 723 MB): benchmarks/README.md,
    "Replay", the allocator."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())


use_system_allocator()


_FACT_TYPES = {
    c: pa.int64() if t == "int8" else pa.int32() if t == "int4" else pa.string()
    for c, t in zip(FACT_COLUMNS, _PG_TYPES, strict=True)
}


def _copy_text(
    conn: Connection, sql: str, params: dict[str, Any], types: dict[str, Any]
) -> pa.Table:
    """COPY (sql) TO STDOUT as text, parsed by Arrow's C++ CSV reader (NULL is '' and text
    columns never hold '' or COPY's backslash escapes in what gapwatch writes)."""
    with _streamed(conn, sql, params, types) as stream:
        return stream.table()


class _Stream:
    """A text COPY's rows as they come: `take` parses what the server has sent so far without
    waiting for more (between other work), `table` waits for the rest."""

    def __init__(self, types: dict[str, Any], waiting: bool) -> None:
        self.pieces: Iterator[bytearray | None] = iter(())
        self._types, self._waiting = types, waiting
        self._tables: list[pa.Table] = []

    def waits(self) -> bool:
        """Whether copy_pieces waits for the server (else it hands back None)."""
        return self._waiting

    def take(self) -> None:
        for piece in self.pieces:
            if piece is None:
                return
            self._tables.append(_parse(piece, self._types))

    def table(self) -> pa.Table:
        self._waiting = True
        self.take()
        # no rows (a new store, or retention dropped every event): COPY sends no piece, and
        # Arrow's CSV reader refuses an empty text ('Empty CSV file') instead of giving no rows
        tables = self._tables
        return pa.concat_tables(tables) if tables else pa.schema(self._types).empty_table()


@contextmanager
def _streamed(
    conn: Connection, sql: str, params: dict[str, Any], types: dict[str, Any], wait: bool = True
) -> Iterator[_Stream]:
    """COPY (sql) TO STDOUT as text, read in pieces parsed by Arrow (`_copy_text`); `wait`
    False: `take` reads only what the server has sent (`_Stream`)."""
    copy_sql = f"COPY ({_bound(conn, sql, params)}) TO STDOUT (NULL '')"
    raw = conn.connection.driver_connection
    # each piece parsed while the server sends the next (the same rows, in order); closed on
    # the way out: a Ctrl-C inside _parse left the COPY open in the suspended generator, holding
    # psycopg's connection lock, and the rollback that followed waited for that lock forever
    from gapwatch.replay.copyout import copy_pieces  # psycopg's: PostgreSQL only

    stream = _Stream(types, wait)
    with closing(copy_pieces(raw, copy_sql, _PIECE_BYTES, wait=stream.waits)) as pieces:
        stream.pieces = pieces
        yield stream


#: how much of the COPY's text is parsed at a time (13 pieces for 1M facts)
_PIECE_BYTES = 8 << 20


def _parse(data: bytearray, types: dict[str, Any]) -> pa.Table:
    return pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(data)),
        # one thread: on a shared machine Arrow's threads cost more CPU than they save
        read_options=pacsv.ReadOptions(column_names=list(types), use_threads=False),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char="\\"),
        convert_options=pacsv.ConvertOptions(
            column_types=types, null_values=[""], strings_can_be_null=True
        ),
    )


_LANE_COLUMNS = ("fact", "cluster", "namespace", "name", "node")
_PROBE_COLUMNS = [
    *_LANE_COLUMNS, "at_us", "prev_us", "state", "event_id", "num1", "num3", "text1"
]  # fmt: skip


def _codes(column: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    encoded = pc.dictionary_encode(pc.fill_null(column, "")).combine_chunks()
    return encoded.dictionary.to_pylist(), encoded.indices.to_numpy().astype(np.int64)


def _fold_probe_columns(state: FoldState, table: pa.Table) -> None:
    """Lane codes from the five key columns' dictionaries (no per-row strings), then the fold."""
    combined = np.zeros(table.num_rows, dtype=np.int64)
    names: list[list[str]] = []
    sizes: list[int] = []
    for column in _LANE_COLUMNS:
        dictionary, codes = _codes(table[column])
        names.append(dictionary)
        sizes.append(len(dictionary))
        combined = combined * len(dictionary) + codes
    unique, lane_of = _ranked(combined, math.prod(sizes))
    keys = []
    for code in unique.tolist():
        parts = []
        for dictionary, size in zip(reversed(names), reversed(sizes), strict=True):
            code, index = divmod(code, size)
            parts.append(dictionary[index])
        keys.append(cast(ProbeKey, tuple(reversed(parts))))
    values, value_of = _codes(table["state"])
    fold_probe_arrays(
        state,
        keys,
        lane_of,
        table["at_us"].to_numpy(),
        pc.fill_null(table["prev_us"], -1).to_numpy(),
        value_of,
        values,
        table["event_id"].to_numpy(),
        pc.fill_null(table["num1"], -1).to_numpy(),
        _resumed(table),
    )


def _ranked(codes: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct codes in order and each code's index among them (`np.unique`, then
    `np.searchsorted`); where the codes' space (0 <= code < `space`) is no larger than the
    codes themselves, from a table of that space: one pass each, no sort."""
    if space > len(codes):
        unique = np.unique(codes)
        return unique, np.searchsorted(unique, codes)
    present = np.zeros(space, dtype=bool)
    present[codes] = True
    return np.flatnonzero(present), (np.cumsum(present) - 1)[codes]


def _resumed(table: pa.Table) -> np.ndarray:
    """The samples whose prev_us is the stored observation a restarted prober or poller resumed
    from (num3 1: replay.facts), or a prober's `resume` look (text1 of health and nodeport
    facts derived before num3 said so)."""
    marked = pc.equal(pc.fill_null(table["num3"], 0), 1)
    look = pc.equal(pc.fill_null(table["text1"], ""), RESUME)
    probed = pc.is_in(table["fact"], value_set=pa.array(["health", "nodeport"]))
    resumed = pc.or_(marked, pc.and_(look, probed))
    return cast(np.ndarray, resumed.to_numpy(zero_copy_only=False))


def _pylist(column: pa.ChunkedArray) -> list[Any]:
    """A column as Python values: through numpy when it holds integers and no NULL (several
    times quicker than Arrow's own conversion); text through its dictionary, one string object
    per distinct value (a Service's, a node's, a state's name repeats on every row: the fold's
    dict lookups then meet the same object; 1M events' other facts folded in 0.27 s of CPU
    against 0.31 s, benchmarks/README.md "Replay")."""
    if column.null_count == 0 and pa.types.is_integer(column.type):
        return cast(list[Any], column.to_numpy().tolist())
    if pa.types.is_string(column.type) and column.null_count < len(column):
        encoded = pc.dictionary_encode(column).combine_chunks()
        words: list[Any] = encoded.dictionary.to_pylist()
        codes = encoded.indices
        if codes.null_count:
            words.append(None)
            codes = pc.fill_null(codes, len(words) - 1)
        # the words taken by numpy from an object array: the same string objects, in C
        return cast(list[Any], np.array(words, dtype=object)[codes.to_numpy()].tolist())
    return cast(list[Any], column.to_pylist())


def fold_pg(
    conn: Connection,
    state: FoldState,
    *,
    cluster: str | None,
    service: ServiceRef | None,
    until_id: int | None = None,
    on_rows: Callable[[float], None] | None = None,
) -> FoldState:
    """Fold the stored facts (all, one cluster's or one Service's; up to `until_id`) read by
    COPY into `state` (replay.load.fold_stored's PostgreSQL path): the other facts as rows in
    event order, then the probe facts as columns."""
    where, params = _where(cluster, service, 0, until_id)
    if _one_snapshot(conn):
        probes = _fold_apart(conn, state, where, params, on_rows)
    else:
        others, probes = _read_together(conn, where, params)
        _fold_rows(state, others, on_rows)
    if state.short_circuited:  # folded with the other facts: none of their NodePort lanes
        voided = pc.and_(
            pc.equal(probes["fact"], NODEPORT),
            pc.is_in(probes["cluster"], value_set=pa.array(sorted(state.short_circuited))),
        )
        probes = probes.filter(pc.invert(voided))
    _fold_probe_columns(state, probes)
    if on_rows is not None:
        on_rows(probes.num_rows)
    return state


def _fold_rows(
    state: FoldState,
    others: pa.Table,
    on_rows: Callable[[float], None] | None,
    every: Callable[[], None] | None = None,
) -> None:
    """Fold the other facts (`others`, in event order) as rows; `every()` before each
    `_EVERY` of them."""
    # made as the fold takes them (it reads each row once, keeps none): no list of 112,050
    # rows of 19 values alive at once
    rows: Iterator[Any] = zip(*(_pylist(others[c]) for c in FACT_COLUMNS), strict=True)
    if every is not None:
        rows = counted(rows, lambda _: every(), _EVERY)
    fold(state, rows if on_rows is None else counted(rows, on_rows))


#: the other facts folded between two looks at what the probe facts' COPY sent (about 3 ms of
#: the fold: a loopback socket's buffers hold what the server sends in 10-30 ms)
_EVERY = 1_000


_BY_EVENT = [("event_id", "ascending"), ("seq", "ascending")]


def _read_together(
    conn: Connection, where: str, params: dict[str, Any]
) -> tuple[pa.Table, pa.Table]:
    """The other facts in event order and the probe facts' `_PROBE_COLUMNS`, from one COPY of
    every column of every fact (one statement: one snapshot in any transaction)."""
    table = _copy_text(conn, f"SELECT {_COLS} FROM facts WHERE {where}", params, _FACT_TYPES)
    is_probe = pc.is_in(table["fact"], value_set=pa.array(PROBE_FACTS))
    others = table.filter(pc.invert(is_probe)).sort_by(_BY_EVENT)
    return others, table.select(_PROBE_COLUMNS).filter(is_probe)


_IS_PROBE = "fact IN (" + ", ".join(f"'{f}'" for f in PROBE_FACTS) + ")"
_PROBE_TYPES = {c: _FACT_TYPES[c] for c in _PROBE_COLUMNS}


def _fold_apart(
    conn: Connection,
    state: FoldState,
    where: str,
    params: dict[str, Any],
    on_rows: Callable[[float], None] | None,
) -> pa.Table:
    """The other facts folded, and the probe facts' `_PROBE_COLUMNS` read, from two COPYs, each of
    the rows and columns it needs: no Arrow filter copying the columns of 1M rows, nor the 7
    columns no probe fact is read by sent and parsed for each probe row (`_read_together`'s).
    On replay.py's 1M-event store the client's CPU of the read 0.81-0.88 s -> 0.58-0.62 s, the
    server's 0.63-0.65 -> 0.69 s (medians) (benchmarks/README.md, "Session 29: replay"). Two
    statements: only inside one snapshot (`_one_snapshot`).

    The other facts are sorted and folded while the server sends the probe facts (what it
    has sent is read and parsed before each `_EVERY` rows, where the client waited for the
    server before: benchmarks/README.md, "Session 35: replay"); the probe facts are folded
    after all of them, as before."""
    sql = f"SELECT {_COLS} FROM facts WHERE {where} AND NOT {_IS_PROBE}"
    others = _copy_text(conn, sql, params, _FACT_TYPES)
    sql = f"SELECT {', '.join(_PROBE_COLUMNS)} FROM facts WHERE {where} AND {_IS_PROBE}"
    with _streamed(conn, sql, params, _PROBE_TYPES, wait=False) as probes:
        probes.take()  # the COPY begun: the server sends while the others are sorted and folded
        _fold_rows(state, others.sort_by(_BY_EVENT), on_rows, probes.take)
        return probes.table()


def _one_snapshot(conn: Connection) -> bool:
    """Whether every statement of `conn`'s transaction reads one snapshot (REPEATABLE READ or
    SERIALIZABLE): under READ COMMITTED a rederive or a retention committed between two reads
    would fold some facts from before it and the others from after; with autocommit each
    statement is a transaction of its own (and `get_isolation_level` does not say so)."""
    raw: Any = conn.connection.driver_connection
    if raw.autocommit:
        return False
    return conn.get_isolation_level() in ("REPEATABLE READ", "SERIALIZABLE")
