"""Time partitions of `events` on PostgreSQL: one per UTC day, created ahead, dropped whole.

Layout (migration 0007, docs/retention.md): `events` is `PARTITION BY RANGE (observed_at)`;
`events_pYYYYMMDD` holds [that day 00:00 UTC, the next day 00:00 UTC); `events_default` takes a
row whose day has no partition yet (an import of old data, a clock far ahead), so a write is
never refused; `maintain` moves such rows into their day's partition.

Dedupe across partitions: PostgreSQL requires a partitioned table's unique keys to include the
partition key, so `events` is unique on (cluster, dedupe_key, observed_at). That is the whole
dedupe for every observation whose key hashes its own `observed_at` (probes, LB samples, log
lines: a duplicate has the same time, so it lands in the same partition). A Kubernetes object
change is keyed by its resourceVersion whenever it was seen: two recorders see it at different
times, maybe on both sides of midnight. Those keys (rows with a resource_version) are also kept
in `event_keys`, unique on (cluster, dedupe_key), written by the writer in the batch's
transaction (a second COPY on its fast path; its staging path skips keys already there). Not a
trigger: a per-row trigger cost 20% of the writer's rows/s (benchmarks/partitioned_ingest.py).
`event_keys` lives and dies with the rows: retention deletes the keys of the rows it drops (an
object change seen again after its row expired is stored again: the log then holds the
object's state within the retention horizon).

Retention drops whole day partitions (upper bound at or before now - retention), and with them
the rows derived from one event each (`DERIVED_BY_EVENT_ID`, replay's facts) and their
`event_keys`, and sets replay's mark (`DROPPED_MARK`) that the projections of the span dropped
are to be kept; nothing else. SQLite has no partitions: there retention deletes by time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, Engine, column, delete, select, table, text

# days created ahead of today: in defaults.py, where `--help` reads it without SQLAlchemy
from gapwatch.recorder.defaults import DEFAULT_AHEAD_DAYS as DEFAULT_AHEAD_DAYS

PARENT = "events"
DEFAULT_PARTITION = "events_default"
#: A daily partition's name: events_p20261202.
PARTITION_NAME = re.compile(r"^events_p(\d{8})$")
#: What `alembic check` must not report as tables missing from the models: the partitions.
PARTITION_TABLE = re.compile(r"^events_(p\d{8}|default)$")
#: How long a maintenance step waits for its lock before giving up until the next run: creating
#: or dropping a partition needs the parent's ACCESS EXCLUSIVE lock, and every write queued
#: behind a waiting request waits too.
LOCK_TIMEOUT = "5s"
#: Tables holding rows derived from exactly one event each, by (cluster, event_id): retention
#: deletes a dropped event's rows there too. Named, not imported: the recorder does not import
#: replay (replay/tables.py defines `facts`).
DERIVED_BY_EVENT_ID: tuple[str, ...] = ("facts",)
#: replay_state's key a retention that dropped events sets: the next refresh keeps the
#: projection rows of the span dropped (replay.kept_rows.MARK; named, not imported, as above)
DROPPED_MARK = "retention_dropped"
_RETENTION = re.compile(r"^\s*(\d+)\s*([dw])\s*$")
#: The longest retention taken: a thousand years. Longer ones put the cutoff before the year 1
#: (Python's datetime ends there), and keeping everything is saying no retention at all.
MAX_RETENTION_DAYS = 365_000


def parse_retention(value: str) -> timedelta:
    """`90d` or `13w` as a timedelta (days are the partitions' grain); ValueError otherwise."""
    match = _RETENTION.match(value)
    if match is None:
        raise ValueError(f"{value!r}: expected a number of days or weeks, like 90d or 13w")
    amount = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
    if amount < 1:
        raise ValueError(f"{value!r}: must be at least one day (like 90d)")
    if amount > MAX_RETENTION_DAYS:
        raise ValueError(
            f"{value!r}: more than {MAX_RETENTION_DAYS:,} days (a thousand years); "
            "to keep everything, give no retention"
        )
    return timedelta(days=amount)


def partition_name(day: date) -> str:
    return f"events_p{day:%Y%m%d}"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def is_partitioned(conn: Connection) -> bool:
    """Whether this store's `events` is a partitioned table (PostgreSQL after 0007)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass('events')"))
    return kind.scalar() == "p"


def day_partitions(conn: Connection) -> dict[date, str]:
    """The day partitions that exist, by day."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass('events')"
        )
    ).scalars()
    out = {}
    for name in rows:
        match = PARTITION_NAME.match(name)
        if match:
            out[datetime.strptime(match.group(1), "%Y%m%d").date()] = name
    return out


def days_in_default(conn: Connection) -> list[date]:
    """The UTC days of the rows the default partition holds."""
    rows = conn.execute(
        text(
            f"SELECT DISTINCT (observed_at AT TIME ZONE 'UTC')::date FROM {DEFAULT_PARTITION} "
            "ORDER BY 1"
        )
    )
    return [r[0] for r in rows]


def create_day(conn: Connection, day: date) -> int:
    """Create `day`'s partition (the caller holds the lock); returns the rows moved into it from
    the default partition. A plain `PARTITION OF` would fail while the default holds rows of
    that day, so those are moved into a new table first, which is then attached."""
    name = partition_name(day)
    lo, hi = day_bounds(day)
    bounds = {"lo": lo, "hi": hi}
    waiting = conn.execute(
        text(
            f"SELECT count(*) FROM {DEFAULT_PARTITION} "
            "WHERE observed_at >= :lo AND observed_at < :hi"
        ),
        bounds,
    ).scalar_one()
    literal = f"FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
    if not waiting:
        conn.execute(text(f"CREATE TABLE {name} PARTITION OF events FOR VALUES {literal}"))
        return 0
    conn.execute(
        text(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS INCLUDING COMPRESSION)")
    )
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
            "WHERE observed_at >= :lo AND observed_at < :hi RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        bounds,
    )
    conn.execute(text(f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES {literal}"))
    return int(waiting)


@dataclass(slots=True)
class Dropped:
    """What retention removed: partitions (or, on SQLite, a time range) and their rows."""

    partitions: list[str] = field(default_factory=list)
    events: int = 0
    derived: int = 0
    keys: int = 0


def drop_day(conn: Connection, name: str, dropped: Dropped) -> None:
    """Drop one day partition with its derived rows and keys (the caller holds the lock)."""
    held = int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
    dropped.events += held
    if held:
        mark_dropped(conn)
    for derived in DERIVED_BY_EVENT_ID:
        gone = conn.execute(
            text(
                f"DELETE FROM {derived} d USING {name} e "
                "WHERE d.cluster = e.cluster AND d.event_id = e.id"
            )
        )
        dropped.derived += int(gone.rowcount)
    keys = conn.execute(
        text(
            f"DELETE FROM event_keys k USING {name} e WHERE e.resource_version IS NOT NULL "
            "AND k.cluster = e.cluster AND k.dedupe_key = e.dedupe_key "
            "AND k.observed_at = e.observed_at"
        )
    )
    dropped.keys += int(keys.rowcount)
    conn.execute(text(f"DROP TABLE {name}"))
    dropped.partitions.append(name)


def lock_for_ddl(conn: Connection) -> None:
    """Wait at most LOCK_TIMEOUT for `events`, in the order the writer takes its locks."""
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    conn.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))


def expired_days(days: dict[date, str], cutoff: datetime) -> list[tuple[date, str]]:
    """The partitions whose whole day ends at or before `cutoff`, oldest first."""
    return sorted((d, n) for d, n in days.items() if day_bounds(d)[1] <= cutoff)


def delete_before(engine: Engine, cutoff: datetime) -> Dropped:
    """Retention without partitions (SQLite, or PostgreSQL before 0007): delete by time, the
    derived rows first (same transaction)."""
    from gapwatch.recorder.tables import events

    dropped = Dropped()
    old = select(events.c.id).where(events.c.observed_at < cutoff)
    with engine.begin() as conn:
        for name in DERIVED_BY_EVENT_ID:
            derived = table(name, column("event_id"))
            gone = conn.execute(delete(derived).where(derived.c.event_id.in_(old)))
            dropped.derived += int(gone.rowcount)
        result = conn.execute(delete(events).where(events.c.observed_at < cutoff))
        dropped.events = int(result.rowcount)
        if dropped.events:
            mark_dropped(conn)
    return dropped


def mark_dropped(conn: Connection) -> None:
    """Tell replay that events were dropped (`DROPPED_MARK`): its next refresh finds which
    projection rows now lie before the first event left, and keeps them (replay.kept_rows)."""
    conn.execute(
        text(
            "INSERT INTO replay_state (key, value) VALUES (:k, 1) "
            "ON CONFLICT (key) DO UPDATE SET value = replay_state.value + 1"
        ),
        {"k": DROPPED_MARK},
    )
