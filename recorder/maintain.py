"""Store maintenance: day partitions created ahead, rows moved out of the default partition,
retention (`gapwatch db maintain`, and the recorder once an hour).

Each step is its own short transaction that waits at most partitions.LOCK_TIMEOUT for its lock,
so a long read delays maintenance (until the next run), never the recorder's writes for long.
Creating and dropping partitions needs the owner of `events` (PostgreSQL's rule): a login that is
not (deploy/: the recorder's gapwatch_recorder) gets MaintenanceNotPermitted, naming the owner and
the last day created, before anything is tried. The recorder logs that once, and again every hour
once the days created ahead are down to today and tomorrow, and keeps writing (into the default
partition once they run out); `gapwatch db maintain` run by the owner (deploy/base: CronJob
gapwatch-maintain) fixes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import structlog
from sqlalchemy import Connection, Engine, func, select, text

from gapwatch.recorder import partitions as parts
from gapwatch.recorder.errors import MaintenanceNotPermitted
from gapwatch.recorder.store import redact, translate_errors
from gapwatch.recorder.tables import events

log = structlog.get_logger("gapwatch.maintain")

#: How often the recorder maintains its store (partitions are a day wide; hourly leaves 23
#: retries before a missing day matters).
RECORDER_EVERY_S = 3600.0


@dataclass(slots=True)
class MaintainResult:
    """What one maintenance run did."""

    partitioned: bool
    created: list[str] = field(default_factory=list)
    moved: int = 0
    cutoff: datetime | None = None
    dropped: parts.Dropped = field(default_factory=parts.Dropped)
    #: The last day that has a partition once the run is done (None: no partitions).
    last_day: date | None = None


def maintain(
    engine: Engine,
    *,
    now: datetime,
    retention: timedelta | None = None,
    ahead_days: int = parts.DEFAULT_AHEAD_DAYS,
) -> MaintainResult:
    """Create today's and the next `ahead_days` partitions, give every row waiting in the
    default partition its day's, then (with `retention`) drop what ended before now - retention.
    Without partitions (SQLite) only retention applies, by deleting rows older than the cutoff."""
    if ahead_days < 0:
        raise ValueError("ahead_days must be 0 or more")
    cutoff = now.astimezone(UTC) - retention if retention is not None else None
    with translate_errors(engine):
        with engine.connect() as conn:
            partitioned = parts.is_partitioned(conn)
            if partitioned:
                _require_owner(conn, str(engine.url))
        result = MaintainResult(partitioned=partitioned, cutoff=cutoff)
        if not partitioned:
            if cutoff is not None:
                result.dropped = parts.delete_before(engine, cutoff)
            return result
        _create(engine, now, ahead_days, result)
        if cutoff is not None:
            _expire(engine, cutoff, result)
        with engine.connect() as conn:
            result.last_day = max(parts.day_partitions(conn), default=None)
    return result


def _require_owner(conn: Connection, url: str) -> None:
    """Raise MaintenanceNotPermitted unless this login owns `events` (or is a member of the
    role that does, or a superuser): only then may it create and drop partitions."""
    login, owner, permitted = conn.execute(
        text(
            "SELECT current_user, pg_get_userbyid(relowner), "
            "pg_has_role(current_user, relowner, 'USAGE') "
            "FROM pg_class WHERE oid = to_regclass('events')"
        )
    ).one()
    if permitted:
        return
    days = parts.day_partitions(conn)
    last = max(days, default=None)
    until = (
        f"the day partitions end on {last:%Y-%m-%d}: rows of later days wait in "
        f"{parts.DEFAULT_PARTITION} and no retention applies until the owner runs it"
        if last is not None
        else f"no day partition exists: every row waits in {parts.DEFAULT_PARTITION}"
    )
    raise MaintenanceNotPermitted(
        f"{redact(url)}: login {login} may not create or drop the day partitions of events "
        f"(only its owner, {owner}, may): run `gapwatch db maintain` daily as {owner} "
        f"(deploy/base: CronJob gapwatch-maintain; docs/retention.md); {until}",
        last_day=last,
    )


def _create(engine: Engine, now: datetime, ahead_days: int, result: MaintainResult) -> None:
    today = now.astimezone(UTC).date()
    with engine.connect() as conn:
        have = parts.day_partitions(conn)
        waiting = parts.days_in_default(conn)
    wanted = {today + timedelta(days=d) for d in range(ahead_days + 1)} | set(waiting)
    for day in sorted(wanted - set(have)):
        with engine.begin() as conn:
            parts.lock_for_ddl(conn)
            if day in parts.day_partitions(conn):  # another maintainer was first
                continue
            result.moved += parts.create_day(conn, day)
            result.created.append(parts.partition_name(day))


@dataclass(frozen=True, slots=True)
class Preview:
    """What `maintain` with a retention would drop, found without changing anything."""

    cutoff: datetime
    events: int
    #: the day partitions that would go (PostgreSQL), oldest first
    partitions: tuple[str, ...]
    #: the recorded span (None: an empty store), to show the cutoff against
    first: datetime | None
    last: datetime | None


def preview(engine: Engine, *, now: datetime, retention: timedelta) -> Preview:
    """The events `maintain(..., retention=retention)` would drop at `now`: on PostgreSQL the
    expired day partitions' rows and the default partition's rows of days that ended before the
    cutoff (maintain moves those into their day first); without partitions the rows older than
    the cutoff."""
    cutoff = now.astimezone(UTC) - retention
    with translate_errors(engine), engine.connect() as conn:
        first, last = conn.execute(
            text("SELECT min(observed_at), max(observed_at) FROM events")
        ).one()
        if not parts.is_partitioned(conn):
            # the very comparison delete_before makes (the column's type converts the cutoff)
            older = select(func.count()).select_from(events).where(events.c.observed_at < cutoff)
            count = conn.execute(older).scalar_one()
            return Preview(cutoff, int(count), (), _utc(first), _utc(last))
        expired = [name for _day, name in parts.expired_days(parts.day_partitions(conn), cutoff)]
        count = sum(
            int(conn.execute(text(f"SELECT count(*) FROM {n}")).scalar_one()) for n in expired
        )
        waiting = conn.execute(
            text(f"SELECT count(*) FROM {parts.DEFAULT_PARTITION} WHERE observed_at < :day"),
            {"day": parts.day_bounds(cutoff.date())[0]},
        ).scalar_one()
    return Preview(cutoff, count + int(waiting), tuple(expired), _utc(first), _utc(last))


def _utc(value: datetime | str | None) -> datetime | None:
    """A timestamp as the driver returns it (SQLite: naive or text) in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _expire(engine: Engine, cutoff: datetime, result: MaintainResult) -> None:
    with engine.connect() as conn:
        expired = parts.expired_days(parts.day_partitions(conn), cutoff)
    for _day, name in expired:
        with engine.begin() as conn:
            parts.lock_for_ddl(conn)
            parts.drop_day(conn, name, result.dropped)


def _days_after(last: date | None, now: datetime) -> int | None:
    """Whole days from `now`'s UTC day to `last` (negative once it is past); None: no day."""
    return None if last is None else (last - now.astimezone(UTC).date()).days


async def run_periodically(
    engine: Engine,
    *,
    retention: timedelta | None,
    ahead_days: int,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    every_s: float = RECORDER_EVERY_S,
    days_ahead: Callable[[int | None], None] | None = None,
) -> None:
    """The recorder's maintenance: at start (even when stopped at once), then every `every_s`
    until `stop`. A failure (a lock not granted in time, the store away) is logged and retried
    next time: recording goes on. A login that may not maintain the store (not the owner) is
    logged once, and then every time only while the partitions end tomorrow or sooner.
    `days_ahead` hears, after each run that could tell, the days from today to the last day
    partition (None: the store has no partitions), for a gauge an alert can watch."""
    told = False
    while True:
        now = clock()
        try:
            done = await asyncio.to_thread(
                maintain, engine, now=now, retention=retention, ahead_days=ahead_days
            )
            if days_ahead is not None:
                days_ahead(_days_after(done.last_day, now) if done.partitioned else None)
            log.info(
                "maintained",
                created=len(done.created),
                moved=done.moved,
                dropped_partitions=len(done.dropped.partitions),
                dropped_events=done.dropped.events,
            )
        except MaintenanceNotPermitted as exc:
            ahead = _days_after(exc.last_day, now)
            if days_ahead is not None:
                days_ahead(ahead)
            soon = ahead is None or ahead <= 1
            if soon or not told:
                log.warning("maintenance not permitted", error=str(exc))
            told = True
        except Exception as exc:  # maintenance never stops recording
            log.warning("maintenance failed; retrying later", error=str(exc).splitlines()[0])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
        if stop.is_set():
            return
