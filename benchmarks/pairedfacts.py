"""Ingest session 33 (measured): a batch's events and facts streamed together, from one thread,
into two COPYs on two connections. `PairedWriter` is the EventWriter whose PostgreSQL fast path
derives each observation as it is copied and writes its facts on a second connection at once;
`benchmarks/ingest.py --paired-facts` runs it beside today's paths.

Today (`overlap=True`) the facts of batch N are derived and copied in a thread while batch N+1
is prepared and copied: two threads taking turns on one GIL, and the pipeline's ends (the first
batch's events, the last batch's facts) not overlapped. Here one thread does it all, row by row,
and both backends work at once: the client's CPU should drop by the thread's switching, the
wall by the ends of the pipeline.

The facts need their events' ids before the events commit. Under the batch's `LOCK TABLE events
IN EXCLUSIVE MODE` (recorder/writer.py) no other writer inserts, so the COPY's ids are the next
values of `events_id_seq` read under the lock; after the COPY the batch's ids are checked to be
exactly that range (count, max; every id was handed out after the read), else the facts'
transaction is rolled back and the batch is derived the ordinary way (the projector, from the
rows in memory with their real ids).

The order of commits is today's: the events first, then the facts with the projector's position
(held on the second connection from the batch's start: `Projector.hold`, the position must be
the id below the batch, else the batch goes the ordinary way). A crash between the two commits
leaves the events stored and the position below them: the next catch-up derives them once, as
today. A batch that meets stored rows (the staging path), guarded items, a derive that raises, a
projector behind: the ordinary way, so what is stored is always what today's writer stores.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, text

from benchmarks import factgroups
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import (
    _COLS,
    _TYPES,
    STAGING_AFTER_CONFLICT,
    Checkpoint,
    EventWriter,
    Guarded,
    WriteResult,
    _copy_keys,
    _JsonTextDumper,
    prepare,
)
from gapwatch.replay.facts import _FACT_TYPES, FACT_COLUMNS, derive, write_facts

_FACTS_COPY = f"COPY facts ({', '.join(FACT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_NOTIFY = text("SELECT pg_notify('gapwatch_events', (SELECT max(id)::text FROM events))")
_NEXT_ID = text(
    "SELECT (SELECT coalesce(max(id), 0) FROM events), "
    "CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM events_id_seq"
)


class PairedWriter(EventWriter):
    """EventWriter whose PostgreSQL fast path writes each batch's facts beside its events."""

    #: the derive hook whose facts this writer writes itself (any other: today's way)
    hook: Any = staticmethod(write_facts)
    #: batches written paired, and the ordinary way (for the benchmark's line)
    paired = 0
    ordinary = 0
    #: called after a paired batch's events commit, before its facts do (a test's seam: a
    #: crash between the two)
    between_commits: Callable[[], None] | None = None

    def _write_batch(
        self,
        observations: Iterator[Observation],
        checkpoints: Sequence[Checkpoint],
        guarded: Sequence[Guarded] = (),
    ) -> WriteResult:
        projector = self.projector
        if (
            guarded
            or projector is None
            or self.dialect != "postgresql"
            or self._staging_batches_left > 0
            or self.derive is not self.hook  # the hook whose facts it writes itself
        ):
            self.ordinary += 1
            return super()._write_batch(observations, checkpoints, guarded)
        # an ordinary batch's facts before ours: the position in order
        underived = self._wait_projection()
        facts_conn = self.engine.connect()
        facts_tx = facts_conn.begin()
        paired = False
        new_rows: list[tuple[int, Observation]] = []
        try:
            with self.engine.begin() as conn:
                conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
                before, first = conn.execute(_NEXT_ID).one()
                in_step = projector.hold(facts_conn) == before
                batch, inserted, derived = self._copy_paired(
                    conn, facts_conn, observations, first if in_step else None
                )
                if inserted:
                    last = int(conn.execute(text("SELECT max(id) FROM events")).scalar_one())
                    paired = derived and inserted == len(batch) and last == first + inserted - 1
                    if paired:
                        new_rows = list(enumerate(batch, start=first))
                        projector.move(facts_conn, last)
                    else:
                        new_rows = self._new_rows(conn, before, batch, inserted)
                if self.notify and inserted:
                    conn.execute(_NOTIFY)
                if checkpoints:
                    self._save_checkpoints(conn, checkpoints)
            # the events are committed: now the facts and the position (a crash here leaves
            # the projector behind, as today)
            if paired:
                if self.between_commits is not None:
                    self.between_commits()
                facts_tx.commit()
            else:
                facts_tx.rollback()
        except BaseException:
            facts_tx.rollback()
            raise
        finally:
            facts_conn.close()
        if paired:
            self.paired += 1
        elif inserted:
            self.ordinary += 1
            if new_rows:
                project = self._hand_over if self.overlap else self._project
                underived += project(projector, new_rows)
        return WriteResult(offered=len(batch), inserted=inserted, underived=underived)

    def _copy_paired(
        self,
        conn: Connection,
        facts_conn: Connection,
        observations: Iterator[Observation],
        first: int | None,
    ) -> tuple[list[Observation], int, bool]:
        """The events COPY (today's fast path, savepoint and `event_keys` included), and when
        `first` is given the facts of each row, derived with the id it will get, into the facts
        COPY. Returns the stored observations, the rows inserted and whether every row's facts
        went out; a unique violation takes today's staging path (nothing derived here)."""
        import psycopg

        raw: Any = conn.connection.driver_connection
        facts_raw: Any = facts_conn.connection.driver_connection
        batch: list[Observation] = []
        rows: list[tuple[Any, ...]] = []
        derived = first is not None
        with raw.cursor() as cur, facts_raw.cursor() as fcur:
            cur.execute("SAVEPOINT gapwatch_direct")
            cur.adapters.register_dumper(None, _JsonTextDumper)
            try:
                with cur.copy(f"COPY events ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(_TYPES)
                    copied = self._copied(copy, observations, batch, rows)
                    if first is None:
                        for _stored in copied:
                            pass
                    else:
                        derived = self._facts_of(enumerate(copied, first), fcur)
                _copy_keys(cur, rows)
            except psycopg.errors.UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT gapwatch_direct")
                self._staging_batches_left = STAGING_AFTER_CONFLICT
                for obs in observations:
                    stored, row = prepare(obs)
                    batch.append(stored)
                    rows.append(row)
                return batch, (self._copy_staged(cur, rows) if rows else 0), False
            cur.execute("RELEASE SAVEPOINT gapwatch_direct")
        return batch, len(rows), derived

    @staticmethod
    def _copied(
        copy: Any,
        observations: Iterator[Observation],
        batch: list[Observation],
        rows: list[tuple[Any, ...]],
    ) -> Iterator[Observation]:
        """Each observation as stored, once its row is in the events COPY (and in `rows`)."""
        for obs in observations:
            stored, row = prepare(obs)
            batch.append(stored)
            rows.append(row)
            copy.write_row(row)
            yield stored

    def _facts_of(self, copied: Iterator[tuple[int, Observation]], fcur: Any) -> bool:
        """Each copied row's facts, derived with its id, into the facts COPY; False when a
        derive or the facts COPY failed (the facts' transaction is then rolled back: never the
        events). Every row is copied all the same."""
        import psycopg

        derived = True
        manager = fcur.copy(_FACTS_COPY)
        fcopy = manager.__enter__()
        fcopy.set_types(_FACT_TYPES)
        try:
            for event_id, stored in copied:
                if derived:
                    try:
                        for fact in derive(event_id, stored):
                            fcopy.write_row(fact)
                    except Exception:  # the ordinary way finds and records it
                        derived = False
        except BaseException as exc:
            with contextlib.suppress(psycopg.Error):
                manager.__exit__(type(exc), exc, exc.__traceback__)
            raise
        try:
            manager.__exit__(None, None, None)
        except psycopg.Error:
            return False
        return derived


class PairedHybridWriter(PairedWriter):
    """PairedWriter with round 8's hybrid layout (benchmarks/factgroups.py, its scratch table
    `facts_grouped` must exist): each row's facts derived as its event is copied, then at the
    batch's end the keys with more than one fact grouped per 1,000 events into `facts_grouped`,
    the rest as `facts` rows, on the facts' connection before the events' COPY ends (measurement
    only: nothing reads `facts_grouped`)."""

    hook = staticmethod(factgroups.write_hybrid)

    def _facts_of(self, copied: Iterator[tuple[int, Observation]], fcur: Any) -> bool:
        import psycopg

        facts: list[Any] = []
        derived = True
        for event_id, stored in copied:
            if derived:
                try:
                    facts.extend(derive(event_id, stored))
                except Exception:  # the ordinary way finds and records it
                    derived = False
        if not derived:
            return False
        try:
            factgroups.copy_hybrid(fcur, facts)
        except psycopg.Error:
            return False
        return True
