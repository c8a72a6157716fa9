"""Store maintenance: day partitions created ahead, rows moved out of the default partition,
retention (`gapwatch db maintain`, and the recorder once an hour).

Each step is its own short transaction that waits at most partitions.LOCK_TIMEOUT for its lock,
so a long read delays maintenance (until the next run), never the recorder's writes for long.
Creating and dropping partitions needs the owner of `events` (PostgreSQL's rule): a recorder
whose login only has gapwatch_writer's grants logs that and keeps writing (into the default
partition once the days created ahead run out); `gapwatch db maintain`, run by the owner, fixes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine

from gapwatch.recorder import partitions as parts
from gapwatch.recorder.store import translate_errors

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
        result = MaintainResult(partitioned=partitioned, cutoff=cutoff)
        if not partitioned:
            if cutoff is not None:
                result.dropped = parts.delete_before(engine, cutoff)
            return result
        _create(engine, now, ahead_days, result)
        if cutoff is not None:
            _expire(engine, cutoff, result)
    return result


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


def _expire(engine: Engine, cutoff: datetime, result: MaintainResult) -> None:
    with engine.connect() as conn:
        expired = parts.expired_days(parts.day_partitions(conn), cutoff)
    for _day, name in expired:
        with engine.begin() as conn:
            parts.lock_for_ddl(conn)
            parts.drop_day(conn, name, result.dropped)


async def run_periodically(
    engine: Engine,
    *,
    retention: timedelta | None,
    ahead_days: int,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    every_s: float = RECORDER_EVERY_S,
) -> None:
    """The recorder's maintenance: at start (even when stopped at once), then every `every_s`
    until `stop`. A failure (no privilege, a lock not granted in time) is logged and retried
    next time: recording goes on."""
    while True:
        try:
            done = await asyncio.to_thread(
                maintain, engine, now=clock(), retention=retention, ahead_days=ahead_days
            )
            log.info(
                "maintained",
                created=len(done.created),
                moved=done.moved,
                dropped_partitions=len(done.dropped.partitions),
                dropped_events=done.dropped.events,
            )
        except Exception as exc:  # maintenance never stops recording
            log.warning("maintenance failed; retrying later", error=str(exc).splitlines()[0])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
        if stop.is_set():
            return
