"""Reading facts out of the store into the fold (the only replay module that reads facts).

`fold_stored` is what replay uses. On PostgreSQL (replay.copyfold, imported there only: numpy and
pyarrow are not loaded by a command on a SQLite store) one `COPY (SELECT ...) TO STDOUT` (text, one
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text

from gapwatch.recorder.exporter import iter_events
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.progresslines import counted
from gapwatch.recorder.projector import FACTS, Projector
from gapwatch.recorder.store import translate_errors
from gapwatch.replay.facts import derive_all, insert_facts, write_facts
from gapwatch.replay.factsql import COLUMNS as _COLS
from gapwatch.replay.factsql import PG_TYPES as _PG_TYPES
from gapwatch.replay.factsql import bound as _bound
from gapwatch.replay.factsql import where as _where
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import ServiceRef


def _pg_rows(conn: Connection, sql: str, params: dict[str, Any]) -> Iterator[Sequence[Any]]:
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur:
        copy_sql = f"COPY ({_bound(conn, sql, params)}) TO STDOUT (FORMAT BINARY)"
        with cur.copy(copy_sql) as copy:
            copy.set_types(_PG_TYPES)
            yield from copy.rows()


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
        from gapwatch.replay.copyfold import fold_pg  # numpy and pyarrow: PostgreSQL only

        return fold_pg(
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
