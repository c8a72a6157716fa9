"""Reading facts out of the store into the fold (the only replay module that reads facts).

`fold_stored` is what replay uses. On PostgreSQL one `COPY (SELECT ...) TO STDOUT` (text, one
scan, its rows gathered from libpq by replay.copyout; two, the probe facts' and the others',
where the transaction reads one snapshot: `load_state`'s) is parsed by Arrow's C++ CSV reader; the
probe and LB samples (most of a real log) go to replay.foldbulk.fold_probe_arrays as numpy
columns, the other facts to replay.fold.fold as rows in event order. Measured on 1M events: ~3x
quicker than psycopg's typed binary COPY rows, whose per-row overhead dominated. On SQLite one
ordered SELECT. `iter_facts` yields every fact as a tuple in replay.facts.FACT_COLUMNS order
(the plain path, and what the tests compare with).
Folding runs with the cyclic GC paused (`no_gc`): millions of small acyclic tuples.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, text

from gapwatch.recorder.exporter import iter_events
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.progresslines import counted
from gapwatch.recorder.projector import FACTS, Projector
from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import copy_types
from gapwatch.replay.facts import FACT_COLUMNS, derive_all, insert_facts, write_facts
from gapwatch.replay.fold import PROBE_FACTS, RESUME, FoldState, ProbeKey, fold
from gapwatch.replay.foldbulk import fold_probe_arrays
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.shortcircuit import NODEPORT
from gapwatch.replay.tables import facts as facts_table


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

_COLS = ", ".join(FACT_COLUMNS)
_PG_TYPES = copy_types(facts_table, FACT_COLUMNS)


def _where(
    cluster: str | None, service: ServiceRef | None, after_id: int, until_id: int | None = None
) -> tuple[str, dict[str, Any]]:
    clauses = ["event_id > :after"]
    params: dict[str, Any] = {"after": after_id}
    if until_id is not None:  # a refresh's checkpoint: up to the newest fact it saw
        clauses.append("event_id <= :until")
        params["until"] = until_id
    if cluster is not None:
        clauses.append("cluster = :cluster")
        params["cluster"] = cluster
    if service is not None:
        # index-friendly (cluster, namespace, ...): the Service's own facts, the pods (and
        # their restarts) and workloads of its namespace, the cluster's nodes, and access-log
        # lines and CloudTrail membership changes that name no Service (tied by target
        # address and NodePort), kube-proxy's syncs per node, API requests without their
        # objects, the stretches a watch relist passed over (of the namespace or of every
        # namespace), the prober's self-check verdicts (of the cluster: replay.shortcircuit)
        params.update(cluster=service.cluster, ns=service.namespace, svc=service.name)
        clauses.append("cluster = :cluster")
        clauses.append(
            "((namespace = :ns AND (name = :svc"
            " OR fact IN ('pod', 'restart', 'workload', 'apireq', 'relist')))"
            " OR (namespace IS NULL AND fact IN ('node', 'access', 'member', 'sync', 'apireq',"
            " 'tgconf', 'relist', 'selfcheck')))"
        )
    return " AND ".join(clauses), params


def _bound(conn: Connection, sql: str, params: dict[str, Any]) -> str:
    compiled = text(sql).bindparams(**params)
    return str(compiled.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def _pg_rows(conn: Connection, sql: str, params: dict[str, Any]) -> Iterator[Sequence[Any]]:
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur:
        copy_sql = f"COPY ({_bound(conn, sql, params)}) TO STDOUT (FORMAT BINARY)"
        with cur.copy(copy_sql) as copy:
            copy.set_types(_PG_TYPES)
            yield from copy.rows()


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


def iter_facts(
    conn: Connection,
    *,
    cluster: str | None = None,
    service: ServiceRef | None = None,
    after_id: int = 0,
    until_id: int | None = None,
) -> Iterator[Sequence[Any]]:
    """Fact rows in (event_id, seq) order."""
    where, params = _where(cluster, service, after_id, until_id)
    sql = f"SELECT {_COLS} FROM facts WHERE {where} ORDER BY event_id, seq"
    if conn.dialect.name == "postgresql":
        yield from _pg_rows(conn, sql, params)
        return
    yield from conn.execute(text(sql), params)


def fold_stored(
    conn: Connection,
    state: FoldState,
    *,
    cluster: str | None = None,
    service: ServiceRef | None = None,
    until_id: int | None = None,
    on_rows: Callable[[float], None] | None = None,
) -> FoldState:
    """Fold the stored facts (all, one cluster's or one Service's; up to `until_id`) into
    `state`; `on_rows(n)` hears of the rows folded, every few thousand (a progress bar).

    PostgreSQL: one COPY of the facts (one scan), parsed by Arrow; the probe/LB rows go to the
    fold as columns, the others as rows in event order."""
    with no_gc():
        if conn.dialect.name != "postgresql":
            rows = iter_facts(conn, cluster=cluster, service=service, until_id=until_id)
            return fold(state, rows if on_rows is None else counted(rows, on_rows))
        return _fold_pg(
            conn, state, cluster=cluster, service=service, until_id=until_id, on_rows=on_rows
        )


@contextmanager
def no_gc(*, kept: bool = False) -> Iterator[None]:
    """The fold allocates millions of small tuples and no cycles: the cyclic GC's repeated
    passes over them would cost more than the fold itself.

    On the way out, where the block left more than `_PROMOTED` new tracked objects (a fold's
    or a detect's), or whatever it left with `kept` (a refresh's: the checkpoint's new state,
    kept until the next refresh replaces it), they go to the oldest generation unscanned
    (freeze, then unfreeze: every tracked object), unless the process keeps objects frozen
    (the recorder's k8s source does: unfreezing would hand them back). Re-enabled with them
    in the youngest, the collector's first pass ran right away over all of them, and a later
    one of the middle generation again: 0.03 s of CPU after the fold and 0.1 s after
    `detect` on replay.py's 1M-event store (benchmarks/README.md, "Session 29: replay"). A
    refresh leaves a few thousand objects, but among them new lists as long as a moved
    node's history (its windows, its lanes' intervals): the young pass visits each item, 3
    ms a refresh on that store at first and 20 ms after 60 rounds, and it found no garbage
    there ("Session 32: refresh"). With `kept`, the young generations are collected on the
    way in (what the process made before is collected young, and its survivors are counted
    towards the next full collection, as without the block). Nothing changes but when cycles
    made inside are freed: at the next full collection (a small block's without `kept`, as
    before, at the next young one; with `kept`, a full collection once `kept` blocks promoted
    `_FULL_AFTER` objects unscanned since the last)."""
    enabled = gc.isenabled()
    if enabled and kept and not gc.get_freeze_count():
        gc.collect(1)  # what came before is collected young (and counted) as it would be
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            made = gc.get_count()[0]
            if (kept or made > _PROMOTED) and not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
                gc.enable()
                if kept and _unscanned(made) > _FULL_AFTER:
                    gc.collect()  # what the kept blocks promoted, scanned once in a while
            gc.enable()


def _unscanned(made: int) -> int:
    """The objects `kept` blocks moved to the oldest generation unscanned since the last full
    collection (whoever ran it), `made` of them just now."""
    full = gc.get_stats()[2]["collections"]
    if full != _KEPT["full"]:
        _KEPT["full"], _KEPT["made"] = full, 0
    _KEPT["made"] += made
    return _KEPT["made"]


#: the full collections seen (gc.get_stats) and the objects promoted unscanned since the last
_KEPT = {"full": -1, "made": 0}
#: at most this many objects promoted unscanned by `kept` blocks between full collections:
#: CPython's own rule (a full collection once the objects promoted from the middle generation
#: pass a quarter of those the last one left) for replay.py's 1M-event state (912,868 tracked
#: objects after its rebuild), so cycles a refresh leaves are freed as often as a collector
#: that saw them young would
_FULL_AFTER = 250_000


#: new tracked objects (allocations less frees since the last young collection) past which
#: `no_gc` moves them to the oldest generation unscanned
_PROMOTED = 100_000


def _fold_pg(
    conn: Connection,
    state: FoldState,
    *,
    cluster: str | None,
    service: ServiceRef | None,
    until_id: int | None = None,
    on_rows: Callable[[float], None] | None = None,
) -> FoldState:
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


def load_state(
    engine: Engine,
    *,
    cluster: str | None = None,
    service: ServiceRef | None = None,
    state: FoldState | None = None,
) -> FoldState:
    """Fold the stored facts (all, one cluster's, or one Service's) into a state."""
    state = state if state is not None else FoldState()
    # one snapshot, so that the facts can be read in two statements (`_fold_apart`)
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with translate_errors(engine), engine.connect() as conn:
        conn = conn.execution_options(**options)
        return fold_stored(conn, state, cluster=cluster, service=service)


def rederive_facts(
    engine: Engine, *, batch: int = 5000, on_events: Callable[[float], None] | None = None
) -> int:
    """Rebuild the facts table from the events' payloads; returns the facts written;
    `on_events(n)` hears of each batch of events derived (a progress bar).

    Reads the log through recorder.exporter (streaming) and writes in one transaction, so a
    failure leaves the old facts in place.
    """
    written = last = 0
    projector = Projector(engine, write_facts, name=FACTS)
    with translate_errors(engine), engine.begin() as conn:
        projector.hold(conn, mark=False)  # the projector waits: no event derived twice
        conn.execute(text("DELETE FROM facts"))
        pending: list[tuple[int, Observation]] = []
        for row in iter_events(engine):
            pending.append(row)
            last = row[0]
            if len(pending) >= batch:
                written += _insert(conn, pending)
                if on_events is not None:
                    on_events(len(pending))
                pending = []
        written += _insert(conn, pending)
        if on_events is not None:
            on_events(len(pending))
        projector.derived_all(conn, last)  # every event by this code: none by other code
    return written


def _insert(conn: Connection, rows: list[tuple[int, Observation]]) -> int:
    facts = derive_all(rows)
    insert_facts(conn, facts)
    return len(facts)
