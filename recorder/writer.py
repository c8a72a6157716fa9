"""The batch writer: observations into the append-only `events` table, idempotently.

The same observation written twice is stored once: every row carries a dedupe key and the table
has a unique (cluster, dedupe_key) constraint (on PostgreSQL's day partitions, that key plus
`event_keys`: recorder/partitions.py); the database, not memory, drops the duplicate.

PostgreSQL, one transaction per batch:
1. `LOCK TABLE events IN EXCLUSIVE MODE`: readers still read; writers queue, so ids become
   visible in id order and a reader tailing by id never skips one that commits late.
2. Fast path: rows stream straight into `COPY events FROM STDIN` inside a savepoint, each row
   serialized while the server stores the previous ones (both cores busy, no threads).
   The keys of its object changes follow in a second COPY, into `event_keys` (the dedupe of
   object changes across day partitions: recorder/partitions.py).
3. If a row was already stored (unique violation), roll back to the savepoint and take the slow
   path: COPY into a temporary staging table, then `INSERT ... SELECT ... ORDER BY seq
   ON CONFLICT DO NOTHING` that also skips keys already in `event_keys`. After a conflict the
   next batches go straight to the slow path for a while (a re-import, or two recorders writing
   the same changes).
4. The sources' checkpoints, one NOTIFY with the highest id.

Compare-and-set (`Guard`): a sampler's change (a prober look, an LB transition) is written with
the checkpoint of its target it was made from (`Guard.base`: the value the source read from the
store or stored itself). Inside the batch transaction, before the events, each guarded item's
checkpoint is written by `INSERT ... ON CONFLICT DO UPDATE ... WHERE value = base RETURNING`
(base None: `ON CONFLICT DO NOTHING`, a first look stored only if no replica stored one): when
no row comes back, the stored checkpoint is not the base (the other replica stored this change,
or another look, first), so the change is dropped, never stored twice; it is logged, counted in
`WriteResult.superseded` (the recorder's `gapwatch_recorder_changes_superseded_total{source}`)
and the guard's `on_superseded` is called, so the source re-reads its state (`on_stored`, when
one was stored: the source then knows its checkpoint is the stored one). The base must
equal the stored value exactly (both backends store the same canonical JSON). Heartbeats of a
state known stored, resumes and other rows that cannot race carry `Guard(check=False)`: their
checkpoint replaces only an older one, as an unguarded checkpoint does. Guarded items are
applied in order (a heartbeat's checkpoint, then the change made from it).

After the commit, the batch's new rows (still in memory) go to the projector
(recorder/projector.py), which derives replay's facts in its own transaction and moves its
position: a bug in a derivation can never roll back ingestion, and a projector that fell behind
(a crash between the two commits, a store error) is caught up from the log by id later.
With `overlap=True` (PostgreSQL; `gapwatch import` and `write_all` use it) the projection of a
batch runs in a thread while the next batch is prepared, copied and committed: the server stores
events while Python derives facts, and each waits less for the other. One projection at most is
in flight (memory stays bounded, batches are projected in id order); `finish()` waits for it,
and `write_all` calls it, so the facts are there when the write returns.

SQLite: one transaction per batch of `INSERT ... ON CONFLICT DO NOTHING`, opened with
`BEGIN IMMEDIATE`: the write lock is taken before anything is read, so the id read before the
batch and a guard's compare are not overtaken by another writer's commit (pysqlite begins a
transaction only at the first INSERT: until then, each read saw whatever had been committed).

Both: strings PostgreSQL cannot store (NUL, lone surrogates) are escaped first
(recorder/storable.py). A batch that fails because of its data is split in halves, down to the
one observation that fails, which goes to the quarantine table (recorder/quarantine.py) while the
rest is written; any other database error becomes a StoreError naming the (redacted) store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, islice
from typing import Any

import psycopg
import structlog
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from gapwatch.recorder import quarantine
from gapwatch.recorder.errors import ObservationError, StoreError
from gapwatch.recorder.observation import K8S_KINDS, Observation
from gapwatch.recorder.projector import Projector
from gapwatch.recorder.storable import storable, try_dumps
from gapwatch.recorder.store import redact, translate_errors
from gapwatch.recorder.tables import (
    EVENT_COLUMNS,
    JsonType,
    copy_types,
    events,
    source_checkpoints,
)

log = structlog.get_logger("gapwatch.recorder.writer")

NOTIFY_CHANNEL = "gapwatch_events"
DEFAULT_BATCH = 5000
#: Longest (cluster, kind, namespace, name) in UTF-8 bytes: an index entry of PostgreSQL's btree
#: holds at most 2,704 bytes (a third of a page); SQLite is held to the same so both agree.
MAX_IDENTITY_BYTES = 2000
#: Batches that skip the fast path after one met a duplicate.
STAGING_AFTER_CONFLICT = 8

_COLS = ", ".join(EVENT_COLUMNS)
#: The staging table takes its columns and types from `events` itself (plus an input order).
_STAGE_DDL = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS gapwatch_stage ON COMMIT DELETE ROWS AS
SELECT 0 AS seq, {_COLS} FROM events WITH NO DATA
"""
#: Duplicates skipped: of rows already stored in the same day partition (ON CONFLICT), of
#: object changes stored on any day (`event_keys`), and within the batch (DISTINCT ON); the keys
#: of the object changes stored go to `event_keys` (recorder/partitions.py). Returns the count.
_INSERT_FROM_STAGE = f"""
WITH stored AS (
    INSERT INTO events ({_COLS})
    SELECT {_COLS} FROM (
        SELECT DISTINCT ON (cluster, dedupe_key) * FROM gapwatch_stage
        ORDER BY cluster, dedupe_key, seq
    ) s
    WHERE s.resource_version IS NULL OR NOT EXISTS (
        SELECT FROM event_keys k WHERE k.cluster = s.cluster AND k.dedupe_key = s.dedupe_key
    )
    ORDER BY seq
    ON CONFLICT DO NOTHING
    RETURNING cluster, dedupe_key, observed_at, resource_version
), keys AS (
    INSERT INTO event_keys (cluster, dedupe_key, observed_at)
    SELECT cluster, dedupe_key, observed_at FROM stored WHERE resource_version IS NOT NULL
)
SELECT count(*) FROM stored
"""
#: Where an `events` row holds what `event_keys` takes, and its resource_version.
_KEY_AT = tuple(EVENT_COLUMNS.index(c) for c in ("cluster", "dedupe_key", "observed_at"))
_RV_AT = EVENT_COLUMNS.index("resource_version")
_COPY_KEYS = "COPY event_keys (cluster, dedupe_key, observed_at) FROM STDIN (FORMAT BINARY)"

#: COPY column types: binary COPY spares the server parsing timestamps and text (measured on
#: the benchmark's mix: 58,000-69,000 rows/s against 48,000-50,000 in text format).
_TYPES = copy_types(events, EVENT_COLUMNS)
_STAGE_TYPES = ["int4", *_TYPES]
#: Positions of the time columns (SQLite takes them as sortable UTC text).
_TIME_AT = [i for i, t in enumerate(_TYPES) if t == "timestamptz"]


class _JsonTextDumper(Dumper):
    """Binary jsonb from JSON text we serialized already: a version byte (1), then the text.

    psycopg's own jsonb dumper would serialize our str a second time, into a JSON string.
    Registered by oid only, on the COPY's cursor, so nothing else is affected."""

    format = Format.BINARY
    oid = psycopg.postgres.types["jsonb"].oid

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + str(obj).encode("utf-8")


#: Called by the projector (recorder/projector.py) with rows new since its position: (event id,
#: observation), in id order, inside the projector's transaction (not the writer's).
Derive = Callable[[Connection, list[tuple[int, Observation]]], None]


def no_derive(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    """A derive hook that writes nothing (for tools that only want the raw log)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A source's resume point, stored atomically with the batch it follows."""

    cluster: str
    source: str
    key: str
    value: Any
    #: when the state it records was observed: set, the checkpoint replaces only one that is
    #: not newer (`updated_at` holds it), so two replicas committing out of order keep the
    #: newest (a sampler's last state of a target: kubeproxy/laststate.py, lb/laststate.py)
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Guard:
    """Compare-and-set for the checkpoint written with a change (module docstring)."""

    #: the target's checkpoint value the change was made from; None: none is stored yet (a
    #: first look: stored only if no other look was)
    base: Any = None
    #: False: the checkpoint replaces only an older one and the observation is always stored
    check: bool = True
    #: called (from the writer's thread) when the change was dropped
    on_superseded: Callable[[], None] | None = field(default=None, compare=False)
    #: called (from the writer's thread) once the change is committed with its checkpoint
    on_stored: Callable[[], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Guarded:
    """An observation (or none) and the checkpoint of its target, written under `guard`."""

    observation: Observation | None
    checkpoint: Checkpoint
    guard: Guard


@dataclass(slots=True)
class WriteResult:
    """What a write did: rows offered, rows stored (the rest were duplicates), and of those
    stored, how many the projector could not derive from (stepped over, in projector_failures;
    the events are stored all the same)."""

    offered: int = 0
    inserted: int = 0
    quarantined: int = 0
    underived: int = 0
    #: guarded changes dropped: their base was not the stored checkpoint (module docstring)
    superseded: int = 0

    @property
    def duplicates(self) -> int:
        return self.offered - self.inserted - self.quarantined - self.superseded

    def add(self, other: WriteResult) -> None:
        self.offered += other.offered
        self.inserted += other.inserted
        self.quarantined += other.quarantined
        self.underived += other.underived
        self.superseded += other.superseded


def prepare(obs: Observation) -> tuple[Observation, tuple[Any, ...]]:
    """The observation as stored (escaped if need be) and its `events` values.

    Raises ObservationError when the payload cannot be stored at all (JSON nested deeper than
    orjson's 254 levels, an integer past 64 bits)."""
    # Key order does not matter for storage (JSONB normalizes it; export re-sorts), and the
    # dedupe key of an object change does not hash the payload: skip the sort for those.
    sort = not (obs.resource_version is not None and obs.kind in K8S_KINDS)
    payload = try_dumps(obs.payload, sort=sort)
    escaped = storable(obs, payload)
    if escaped is not None:
        obs = escaped
        payload = try_dumps(obs.payload, sort=sort)
    if payload is None:
        raise ObservationError(
            "payload cannot be stored as JSON (nested over 254 levels, or an integer past 64 bits)"
        )
    identity = (obs.cluster, obs.kind, obs.namespace or "", obs.name or "")
    chars = len(obs.cluster) + len(obs.kind) + len(identity[2]) + len(identity[3])
    if (
        chars * 4 > MAX_IDENTITY_BYTES
        and sum(len(p.encode()) for p in identity) > MAX_IDENTITY_BYTES
    ):
        raise ObservationError(
            f"cluster, kind, namespace and name exceed {MAX_IDENTITY_BYTES} bytes together "
            "(PostgreSQL cannot index them)"
        )
    return obs, _row(obs, payload, obs.dedupe_key(payload))


def event_row(obs: Observation) -> tuple[Any, ...]:
    """The `events` values of an observation, in EVENT_COLUMNS order (escaped if need be)."""
    return prepare(obs)[1]


def _row(obs: Observation, payload: str, key: str) -> tuple[Any, ...]:
    # Spelled out: the hot path of every ingest (6 ms per 20,000 rows against 40-56 ms through
    # operator.attrgetter). tests/store/test_schema_layers.py checks it against EVENT_COLUMNS.
    return (
        obs.cluster,
        obs.observed_at,
        obs.source,
        obs.kind,
        obs.op,
        obs.namespace,
        obs.name,
        obs.node,
        obs.source_time,
        obs.resource_version,
        obs.previous_observed_at,
        key,
        payload,
    )


def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    v = value.astimezone(UTC)  # not strftime: %Y does not pad years before 1000
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond:06d}"
    )


def _sqlite_row(prepared: tuple[Any, ...]) -> tuple[Any, ...]:
    row = list(prepared)
    for i in _TIME_AT:
        row[i] = _sqlite_time(row[i])
    return tuple(row)


class EventWriter:
    """Writes batches of observations; see the module docstring for the guarantees."""

    def __init__(
        self,
        engine: Engine,
        *,
        derive: Derive,
        notify: bool = True,
        on_quarantine: Callable[[Observation, str], None] | None = None,
        overlap: bool = False,
    ) -> None:
        """`derive` writes what is derived from the new rows: replay.facts.write_facts (the
        narrow rows replay reads) on every ingest path, `no_derive` for the raw log only. It is
        required: the recorder does not import replay, so the caller composes the two.
        `on_quarantine` hears of each observation quarantined (as given, and why).
        `overlap` projects each batch in a thread while the next one is written (PostgreSQL
        only; see the module docstring): call `finish()` before relying on the facts."""
        self.engine = engine
        self.on_quarantine = on_quarantine
        self.notify = notify
        self.derive = derive
        self.projector = None if derive is no_derive else Projector(engine, derive)
        self.dialect = engine.dialect.name
        self._staging_batches_left = 0
        # SQLite's one database lock would make the projection and the next batch take turns
        self._can_overlap = self.dialect == "postgresql" and self.projector is not None
        self.overlap = overlap and self._can_overlap
        self._projecting: Future[int] | None = None
        self._pool: ThreadPoolExecutor | None = None

    def write(
        self,
        observations: Iterable[Observation],
        checkpoints: Sequence[Checkpoint] = (),
        guarded: Sequence[Guarded] = (),
    ) -> WriteResult:
        """Store one batch (and the checkpoints that follow it) in one transaction; `guarded`
        items are applied in order, before the batch's own checkpoints (module docstring).

        A batch its data makes fail is split until the failing observation is found; that one
        is quarantined (`WriteResult.quarantined`) and the rest written, checkpoints last."""
        source = iter(observations)
        seen: list[Observation] = []

        def tracked() -> Iterator[Observation]:
            for obs in source:
                seen.append(obs)
                yield obs

        try:
            return self._write_batch(tracked(), checkpoints, guarded)
        except Exception as exc:
            if not quarantine.is_poison(exc):
                raise self._store_error(exc) from None
            failure: Exception = exc
        plain = [*seen, *source]
        if not guarded:
            return self._isolate(plain, checkpoints, failure)
        result = (
            self._isolate(plain, checkpoints, failure) if plain or checkpoints else WriteResult()
        )
        for item in guarded:  # one by one: the failing one is found and quarantined alone
            result.add(self._write_guarded_alone(item))
        return result

    def _write_guarded_alone(self, item: Guarded) -> WriteResult:
        try:
            return self._write_batch(iter(()), (), [item])
        except Exception as exc:
            if not quarantine.is_poison(exc) or item.observation is None:
                raise self._store_error(exc) from None
            failure = exc
        result = self._isolate([item.observation], (), failure)
        result.add(self._write_batch(iter(()), (), [Guarded(None, item.checkpoint, item.guard)]))
        return result

    def _isolate(
        self, batch: list[Observation], checkpoints: Sequence[Checkpoint], error: Exception
    ) -> WriteResult:
        if not batch:  # nothing to split: the checkpoints themselves, or the store
            raise StoreError(f"{redact(str(self.engine.url))}: {quarantine.describe(error)}")
        if len(batch) > 1:
            mid = len(batch) // 2
            result = self.write(batch[:mid])
            result.add(self.write(batch[mid:], checkpoints))
            return result
        with translate_errors(self.engine):
            for obs in batch:
                quarantine.store(self.engine, obs, error)
                if self.on_quarantine is not None:
                    self.on_quarantine(obs, quarantine.describe(error))
        result = self.write([], checkpoints) if checkpoints else WriteResult()
        result.add(WriteResult(offered=len(batch), quarantined=len(batch)))
        return result

    def _store_error(self, exc: Exception) -> Exception:
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, psycopg.Error | sqlite3.Error | SQLAlchemyError):
            inner = getattr(exc, "orig", None) or exc
            reason = (str(inner).strip().splitlines() or [type(inner).__name__])[0]
            return StoreError(f"{redact(str(self.engine.url))}: {reason}")
        return exc

    def _write_batch(
        self,
        observations: Iterator[Observation],
        checkpoints: Sequence[Checkpoint],
        guarded: Sequence[Guarded] = (),
    ) -> WriteResult:
        new_rows: list[tuple[int, Observation]] = []
        applied: list[Guarded] = []
        superseded: list[Guarded] = []
        with self.engine.begin() as conn:
            derive = self.projector
            if self.dialect == "postgresql":
                # Held to the commit: ids become visible in id order, and every id above
                # `before` is this batch's (SQLite's database lock does the same there).
                conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
            else:
                # the write lock before the first read (module docstring)
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            before = self._max_id(conn) if derive is not None else 0
            if guarded:
                applied, superseded = self._apply_guards(conn, guarded)
                kept = (item.observation for item in applied if item.observation is not None)
                observations = chain(observations, kept)
            if self.dialect == "postgresql":
                batch, inserted = self._write_postgres(conn, iter(observations))
            else:
                batch, inserted = self._write_sqlite(conn, observations)
            if derive is not None and inserted:
                new_rows = self._new_rows(conn, before, batch, inserted)
            if checkpoints:
                self._save_checkpoints(conn, checkpoints)
        for item in superseded:
            self._superseded(item)
        for item in applied:
            if item.guard.check and item.guard.on_stored is not None:
                item.guard.on_stored()
        underived = 0
        if derive is not None and new_rows:
            project = self._hand_over if self.overlap else self._project
            underived = project(derive, new_rows)
        dropped = sum(1 for item in superseded if item.observation is not None)
        return WriteResult(
            offered=len(batch) + dropped,
            inserted=inserted,
            underived=underived,
            superseded=dropped,
        )

    def _apply_guards(
        self, conn: Connection, guarded: Sequence[Guarded]
    ) -> tuple[list[Guarded], list[Guarded]]:
        """Each item's checkpoint in order (runs of unchecked ones together); returns the items
        to store and those whose base was not the stored checkpoint."""
        kept: list[Guarded] = []
        superseded: list[Guarded] = []
        unchecked: list[Checkpoint] = []
        for item in guarded:
            if not item.guard.check:
                unchecked.append(item.checkpoint)
                kept.append(item)
                continue
            if unchecked:
                self._save_checkpoints(conn, unchecked)
                unchecked = []
            if self._compare_and_set(conn, item.checkpoint, item.guard.base):
                kept.append(item)
            else:
                superseded.append(item)
        if unchecked:
            self._save_checkpoints(conn, unchecked)
        return kept, superseded

    def _compare_and_set(self, conn: Connection, checkpoint: Checkpoint, base: Any) -> bool:
        """Write `checkpoint` if the stored one is `base` exactly (None: if none is stored)."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = insert(source_checkpoints).values(
            cluster=checkpoint.cluster,
            source=checkpoint.source,
            key=checkpoint.key,
            value=checkpoint.value,
            updated_at=checkpoint.at or datetime.now(UTC),
        )
        keys = ["cluster", "source", "key"]
        if base is None:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        else:
            stmt = stmt.on_conflict_do_update(
                index_elements=keys,
                set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                where=source_checkpoints.c.value == bindparam("base", base, JsonType),
            )
        return conn.execute(stmt.returning(source_checkpoints.c.key)).first() is not None

    @staticmethod
    def _superseded(item: Guarded) -> None:
        obs = item.observation
        log.info(
            "change superseded: its base is not the stored state; dropped",
            source=item.checkpoint.source,
            key=item.checkpoint.key,
            kind=None if obs is None else obs.kind,
            op=None if obs is None else obs.op,
        )
        if item.guard.on_superseded is not None:
            item.guard.on_superseded()

    def _hand_over(self, projector: Projector, rows: list[tuple[int, Observation]]) -> int:
        """Start projecting `rows` in the thread once the previous projection is done; returns
        what that previous one stepped over."""
        underived = self._wait_projection()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projector")
        self._projecting = self._pool.submit(self._project, projector, rows)
        return underived

    def _wait_projection(self) -> int:
        running, self._projecting = self._projecting, None
        return running.result() if running is not None else 0

    def finish(self) -> WriteResult:
        """Wait for the projection in flight (overlap): the facts of every batch written are
        stored (or the projector stays behind on a store error, as without overlap). Returns
        the events it stepped over as `underived`."""
        try:
            return WriteResult(underived=self._wait_projection())
        finally:
            if self._pool is not None:  # its thread ends; a later overlap starts another
                self._pool.shutdown()
                self._pool = None

    @staticmethod
    def _project(projector: Projector, rows: list[tuple[int, Observation]]) -> int:
        """The events are committed: whatever happens here, they stay. Returns the events the
        projector stepped over."""
        try:
            return projector.apply(rows).failed
        except StoreError as exc:  # the projector stays behind; the next catch-up resumes
            log.warning("projector behind", error=str(exc), first_id=rows[0][0])
            return 0

    def write_all(
        self,
        observations: Iterable[Observation],
        *,
        batch_size: int = DEFAULT_BATCH,
        on_batch: Callable[[WriteResult], None] | None = None,
    ) -> WriteResult:
        """Stream any number of observations through in batches; memory stays flat."""
        total = WriteResult()
        iterator = iter(observations)
        # overlapped whenever it can be: the facts are waited for before returning anyway
        given, self.overlap = self.overlap, self._can_overlap
        try:
            while True:
                result = self.write(islice(iterator, batch_size))
                if not result.offered:
                    break
                total.add(result)
                if on_batch is not None:
                    on_batch(result)
        finally:
            self.overlap = given
            finished = self.finish()
        total.add(finished)
        return total

    @staticmethod
    def _max_id(conn: Connection) -> int:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar_one())

    @staticmethod
    def _new_rows(
        conn: Connection, before: int, observations: Sequence[Observation], inserted: int
    ) -> list[tuple[int, Observation]]:
        last = conn.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar_one()
        if inserted == len(observations) == last - before:
            # Every row was new and the ids have no gap: handed out in input order (lock held).
            return list(enumerate(observations, start=before + 1))
        by_key = {obs.dedupe_key(): obs for obs in observations}
        rows = conn.execute(
            text("SELECT id, dedupe_key FROM events WHERE id > :before ORDER BY id"),
            {"before": before},
        )
        return [(int(r.id), by_key[r.dedupe_key]) for r in rows]

    def _write_postgres(
        self, conn: Connection, observations: Iterator[Observation]
    ) -> tuple[list[Observation], int]:
        raw: Any = conn.connection.driver_connection
        batch: list[Observation] = []
        rows: list[tuple[Any, ...]] = []
        with raw.cursor() as cur:
            inserted: int | None = None
            if self._staging_batches_left <= 0:
                inserted = self._copy_direct(cur, observations, batch, rows)
                if inserted is None:
                    self._staging_batches_left = STAGING_AFTER_CONFLICT
            else:
                self._staging_batches_left -= 1
            for obs in observations:  # what the failed fast path did not reach
                stored, row = prepare(obs)
                batch.append(stored)
                rows.append(row)
            if inserted is None:
                inserted = self._copy_staged(cur, rows) if rows else 0
            if self.notify and inserted:
                cur.execute(
                    "SELECT pg_notify(%s, (SELECT max(id)::text FROM events))", (NOTIFY_CHANNEL,)
                )
        return batch, inserted

    @staticmethod
    def _copy_direct(
        cur: Any,
        observations: Iterator[Observation],
        batch: list[Observation],
        rows: list[tuple[Any, ...]],
    ) -> int | None:
        """COPY straight into events; None (nothing written) if any row is already stored."""
        cur.execute("SAVEPOINT gapwatch_direct")
        cur.adapters.register_dumper(None, _JsonTextDumper)
        try:
            with cur.copy(f"COPY events ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_TYPES)
                for obs in observations:
                    stored, row = prepare(obs)
                    batch.append(stored)
                    rows.append(row)
                    copy.write_row(row)
            _copy_keys(cur, rows)
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT gapwatch_direct")
            return None
        cur.execute("RELEASE SAVEPOINT gapwatch_direct")
        return len(rows)

    @staticmethod
    def _copy_staged(cur: Any, rows: list[tuple[Any, ...]]) -> int:
        """COPY into a staging table, then INSERT ... ON CONFLICT DO NOTHING in input order."""
        cur.execute(_STAGE_DDL)
        cur.adapters.register_dumper(None, _JsonTextDumper)
        with cur.copy(f"COPY gapwatch_stage (seq, {_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_STAGE_TYPES)
            for seq, row in enumerate(rows):
                copy.write_row((seq, *row))
        cur.execute(_INSERT_FROM_STAGE)
        return int(cur.fetchone()[0])

    @staticmethod
    def _write_sqlite(
        conn: Connection, observations: Iterator[Observation]
    ) -> tuple[list[Observation], int]:
        batch: list[Observation] = []
        rows: list[tuple[Any, ...]] = []
        for obs in observations:
            stored, row = prepare(obs)
            batch.append(stored)
            rows.append(_sqlite_row(row))
        if not rows:
            return batch, 0
        raw: Any = conn.connection.driver_connection
        before = raw.total_changes
        placeholders = ", ".join("?" for _ in EVENT_COLUMNS)
        raw.executemany(
            f"INSERT INTO events ({_COLS}) VALUES ({placeholders}) "
            "ON CONFLICT (cluster, dedupe_key) DO NOTHING",
            rows,
        )
        return batch, int(raw.total_changes - before)

    def _save_checkpoints(self, conn: Connection, checkpoints: Sequence[Checkpoint]) -> None:
        now = datetime.now(UTC)
        for timed in (False, True):
            values = [
                {"cluster": c.cluster, "source": c.source, "key": c.key, "value": c.value,
                 "updated_at": c.at or now}
                for c in _one_per_key(c for c in checkpoints if (c.at is not None) == timed)
            ]  # fmt: skip
            if not values:
                continue
            insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
            stmt = insert(source_checkpoints).values(values)
            newer = source_checkpoints.c.updated_at <= stmt.excluded.updated_at
            stmt = stmt.on_conflict_do_update(
                index_elements=["cluster", "source", "key"],
                set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                where=newer if timed else None,
            )
            conn.execute(stmt)


def _one_per_key(checkpoints: Iterable[Checkpoint]) -> list[Checkpoint]:
    """One checkpoint per (cluster, source, key), the one a row-by-row upsert would leave: the
    newest observed (the last of equals), or the last given when untimed. PostgreSQL refuses an
    `INSERT ... ON CONFLICT DO UPDATE` that names one key twice, and a busy sampler can save
    two states of one target in the same batch."""
    kept: dict[tuple[str, str, str], Checkpoint] = {}
    for c in checkpoints:
        key = (c.cluster, c.source, c.key)
        held = kept.get(key)
        if held is None or held.at is None or c.at is None or held.at <= c.at:
            kept[key] = c
    return list(kept.values())


def _copy_keys(cur: Any, rows: list[tuple[Any, ...]]) -> None:
    """The fast path's `event_keys`: one COPY of the object changes' keys; an object change
    stored before (another day, another recorder) fails it, and the batch takes the staging path."""
    keys = [tuple(row[i] for i in _KEY_AT) for row in rows if row[_RV_AT] is not None]
    if not keys:
        return
    with cur.copy(_COPY_KEYS) as copy:
        copy.set_types(["text", "text", "timestamptz"])
        for key in keys:
            copy.write_row(key)


def load_checkpoints(engine: Engine, cluster: str, source: str) -> dict[str, Any]:
    """Every checkpoint a source saved for a cluster, by key."""
    query = source_checkpoints.select().where(
        source_checkpoints.c.cluster == cluster, source_checkpoints.c.source == source
    )
    with translate_errors(engine), engine.connect() as conn:
        return {row.key: row.value for row in conn.execute(query)}


def batched(items: Iterable[Observation], size: int) -> Iterator[list[Observation]]:
    """Consecutive lists of at most `size` items."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
