"""The batch writer: observations into the append-only `events` table, idempotently.

The same observation written twice is stored once: every row carries a dedupe key and the table has
a unique (cluster, dedupe_key) constraint; the database, not memory, drops the duplicate.

PostgreSQL: one transaction per batch that takes `LOCK TABLE events IN EXCLUSIVE MODE` (readers
still read; writers queue, so ids become visible in id order and a reader tailing by id never skips
one that commits late), COPYs the batch into a temporary staging table, then
`INSERT ... SELECT ... ON CONFLICT DO NOTHING` in input order, upserts the sources' checkpoints and
sends one NOTIFY with the highest id. SQLite: one transaction per batch of
`INSERT ... ON CONFLICT DO NOTHING`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from recorder.observation import Observation
from recorder.store import translate_errors
from recorder.tables import EVENT_COLUMNS, source_checkpoints

NOTIFY_CHANNEL = "gapwatch_events"
DEFAULT_BATCH = 5000

_STAGE_DDL = """
CREATE TEMPORARY TABLE IF NOT EXISTS gapwatch_stage (
    seq integer NOT NULL,
    cluster text NOT NULL,
    observed_at timestamptz NOT NULL,
    source text NOT NULL,
    kind text NOT NULL,
    op text NOT NULL,
    namespace text,
    name text,
    node text,
    source_time timestamptz,
    resource_version text,
    previous_observed_at timestamptz,
    dedupe_key text NOT NULL,
    payload text NOT NULL
) ON COMMIT DELETE ROWS
"""
_COLS = ", ".join(EVENT_COLUMNS)
_INSERT_FROM_STAGE = f"""
INSERT INTO events ({_COLS})
SELECT {_COLS.replace("payload", "payload::jsonb")} FROM gapwatch_stage ORDER BY seq
ON CONFLICT (cluster, dedupe_key) DO NOTHING
"""

#: Called inside the batch's transaction with the rows that were new: (event id, observation).
#: Derived tables written here (facts, projections) commit or roll back with the events.
Derive = Callable[[Connection, list[tuple[int, Observation]]], None]


def no_derive(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    """A derive hook that writes nothing (for tools that only want the raw log)."""


def _default_derive() -> Derive:
    from recorder.facts import write_facts

    return write_facts


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A source's resume point, stored atomically with the batch it follows."""

    cluster: str
    source: str
    key: str
    value: Any


@dataclass(slots=True)
class WriteResult:
    """What a write did: rows offered, rows stored (the rest were duplicates)."""

    offered: int = 0
    inserted: int = 0

    @property
    def duplicates(self) -> int:
        return self.offered - self.inserted

    def add(self, other: WriteResult) -> None:
        self.offered += other.offered
        self.inserted += other.inserted


def _row(obs: Observation) -> tuple[Any, ...]:
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
        obs.dedupe_key(),
        obs.payload_json(),
    )


def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class EventWriter:
    """Writes batches of observations; see the module docstring for the guarantees."""

    def __init__(
        self, engine: Engine, *, notify: bool = True, derive: Derive | None = None
    ) -> None:
        """`derive` defaults to recorder.facts.write_facts (the narrow rows replay reads)."""
        self.engine = engine
        self.notify = notify
        # Every ingest path fills the narrow facts replay reads; pass `no_derive` to skip it.
        self.derive = derive if derive is not None else _default_derive()
        self.dialect = engine.dialect.name

    def write(
        self, observations: Sequence[Observation], checkpoints: Sequence[Checkpoint] = ()
    ) -> WriteResult:
        """Store one batch in one transaction; returns how many rows were new."""
        if not observations and not checkpoints:
            return WriteResult()
        with translate_errors(self.engine), self.engine.begin() as conn:
            derive = self.derive if self.derive is not no_derive else None
            before = self._max_id(conn) if derive and observations else 0
            if self.dialect == "postgresql":
                inserted = self._write_postgres(conn, observations)
            else:
                inserted = self._write_sqlite(conn, observations)
            if derive is not None and inserted:
                derive(conn, self._new_rows(conn, before, observations))
            if checkpoints:
                self._save_checkpoints(conn, checkpoints)
        return WriteResult(offered=len(observations), inserted=inserted)

    def write_all(
        self,
        observations: Iterable[Observation],
        *,
        batch_size: int = DEFAULT_BATCH,
        on_batch: Any = None,
    ) -> WriteResult:
        """Stream any number of observations through in batches; memory stays flat."""
        total = WriteResult()
        for batch in batched(observations, batch_size):
            result = self.write(batch)
            total.add(result)
            if on_batch is not None:
                on_batch(result)
        return total

    @staticmethod
    def _max_id(conn: Connection) -> int:
        # Writers hold the table lock (Postgres) or the database lock (SQLite) for the whole
        # transaction, so every id above this one is ours.
        if conn.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar_one())

    @staticmethod
    def _new_rows(
        conn: Connection, before: int, observations: Sequence[Observation]
    ) -> list[tuple[int, Observation]]:
        by_key = {obs.dedupe_key(): obs for obs in observations}
        rows = conn.execute(
            text("SELECT id, dedupe_key FROM events WHERE id > :before ORDER BY id"),
            {"before": before},
        )
        return [(int(r.id), by_key[r.dedupe_key]) for r in rows]

    def _write_postgres(self, conn: Connection, observations: Sequence[Observation]) -> int:
        if not observations:
            return 0
        conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
        conn.execute(text(_STAGE_DDL))
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur:
            with cur.copy("COPY gapwatch_stage (seq, " + _COLS + ") FROM STDIN") as copy:
                for seq, obs in enumerate(observations):
                    copy.write_row((seq, *_row(obs)))
            cur.execute(_INSERT_FROM_STAGE)
            inserted = int(cur.rowcount)
            if self.notify and inserted:
                cur.execute(
                    "SELECT pg_notify(%s, (SELECT max(id)::text FROM events))", (NOTIFY_CHANNEL,)
                )
        return inserted

    def _write_sqlite(self, conn: Connection, observations: Sequence[Observation]) -> int:
        if not observations:
            return 0
        raw: Any = conn.connection.driver_connection
        before = raw.total_changes
        placeholders = ", ".join("?" for _ in EVENT_COLUMNS)
        sql = (
            f"INSERT INTO events ({_COLS}) VALUES ({placeholders}) "
            "ON CONFLICT (cluster, dedupe_key) DO NOTHING"
        )
        rows = []
        for obs in observations:
            row = list(_row(obs))
            row[1] = _sqlite_time(obs.observed_at)
            row[8] = _sqlite_time(obs.source_time)
            row[10] = _sqlite_time(obs.previous_observed_at)
            rows.append(row)
        raw.executemany(sql, rows)
        return int(raw.total_changes - before)

    def _save_checkpoints(self, conn: Connection, checkpoints: Sequence[Checkpoint]) -> None:
        now = datetime.now(UTC)
        values = [
            {
                "cluster": c.cluster,
                "source": c.source,
                "key": c.key,
                "value": c.value,
                "updated_at": now,
            }
            for c in checkpoints
        ]
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = insert(source_checkpoints).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["cluster", "source", "key"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        conn.execute(stmt)


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
