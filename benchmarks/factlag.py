"""Fact lag benchmark: time from an event's commit to its facts' commit, at a paced write rate.

    python benchmarks/factlag.py [--rate 10000] [--seconds 20] [--batch 1000] [--pg URL]

Without --pg (or GAPWATCH_BENCH_PG) a throwaway PostgreSQL 15 with DEFAULT durability is started
(benchmarks/server.py). Observations are the realistic mix (benchmarks/observations.py), written
in batches of --batch on a fixed schedule of --rate events/s (a batch late on the schedule is
written at once: the achieved rate is printed beside the target). Three modes, each on a fresh
database:

- inline: the recorder's writer (`EventWriter(derive=write_facts)`): after each commit the
  writer's own projector derives the batch's facts from memory; lag = facts commit - events
  commit.
- overlapped: the same writer with `overlap=True` (what `gapwatch import` and `write_all` use):
  each batch's facts are derived in a thread while the next batch is written.
- follower: a log-only writer (`no_derive`, one NOTIFY per batch) and, in another process, the
  recorder's projector task (`recorder.follow.follow`) woken by NOTIFY, reading the events back;
  lag = the follower's commit covering the event - the event's commit (same machine clock).

Prints per mode the achieved rate and the lag's p50, p99 and maximum over every event (the target
of issue 15: p99 under 1 s at 10,000 events/s).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import multiprocessing as mp
import os
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.observations import from_pool
from benchmarks.server import drop_db, fresh_db, machine, server
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.projector import Progress, Projector, Rows
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter, no_derive
from gapwatch.replay.facts import write_facts

#: (wall time, position) after each projector step that moved it.
Marks = list[tuple[float, int]]


class TimedProjector(Projector):
    """A Projector noting when each step committed and how far it got."""

    marks: Marks

    def _run(self, rows: Rows | None, *, until: int | None) -> Progress:
        done = super()._run(rows, until=until)
        if done.projected or done.failed:
            self.marks.append((time.time(), done.position))
        return done


def _follower(url: str, stop: Any, out: Any) -> None:
    engine = make_engine(url)
    projector = TimedProjector(engine, write_facts)
    projector.marks = []

    async def run() -> None:
        done = asyncio.Event()
        task = asyncio.create_task(follow_until(projector, done))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        done.set()
        await task

    asyncio.run(run())
    out.put(projector.marks)


async def follow_until(projector: Projector, done: asyncio.Event) -> None:
    from gapwatch.recorder.follow import follow

    await follow(projector, done)


def paced_write(
    writer: EventWriter, rate: int, seconds: float, batch: int, committed: list[float] | None = None
) -> tuple[list[tuple[float, int, int]], float]:
    """Write on schedule; returns [(commit time, first id, last id)] and the achieved rate.

    The commit time is when `write` returns, or the last time appended to `committed` during
    the write (the inline mode notes it between the events' commit and the projection)."""
    n = int(rate * seconds)
    source = from_pool(n)
    commits: list[tuple[float, int, int]] = []
    start = time.perf_counter()
    last_id = 0
    for k in range(0, n, batch):
        due = start + k / rate
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        chunk: list[Observation] = list(islice(source, batch))
        result = writer.write(chunk)
        at = committed[-1] if committed else time.time()
        commits.append((at, last_id + 1, last_id + result.inserted))
        last_id += result.inserted
    return commits, n / (time.perf_counter() - start)


def lags(commits: list[tuple[float, int, int]], marks: Marks) -> list[float]:
    """One lag per event: first mark at or past its id minus its batch's commit time."""
    marks = sorted(marks)
    positions = [p for _t, p in marks]
    out: list[float] = []
    for committed, first, last in commits:
        for event_id in range(first, last + 1):
            i = bisect.bisect_left(positions, event_id)
            if i == len(marks):
                raise SystemExit(f"event {event_id} never got its facts")
            out.append(marks[i][0] - committed)
    return sorted(out)


def inline(
    url: str, args: argparse.Namespace, *, overlap: bool = False
) -> tuple[list[float], float]:
    engine = make_engine(url)
    writer = EventWriter(engine, derive=write_facts, overlap=overlap)
    projector = TimedProjector(engine, write_facts)
    projector.marks = []
    writer.projector = projector
    committed: list[float] = []

    def project(projector: Projector, rows: Rows) -> int:  # called right after the commit
        committed.append(time.time())
        return EventWriter._project(projector, rows)

    def hand_over(projector: Projector, rows: Rows) -> int:  # the same, overlapped
        committed.append(time.time())
        return handed(projector, rows)

    handed = writer._hand_over
    if overlap:
        writer._hand_over = hand_over  # type: ignore[method-assign]
    else:
        writer._project = project  # type: ignore[method-assign]
    commits, achieved = paced_write(writer, args.rate, args.seconds, args.batch, committed)
    writer.finish()  # the last batch's facts (paced_write's rate is taken before)
    engine.dispose()
    return lags(commits, projector.marks), achieved


def overlapped(url: str, args: argparse.Namespace) -> tuple[list[float], float]:
    return inline(url, args, overlap=True)


def follower(url: str, args: argparse.Namespace) -> tuple[list[float], float]:
    ctx = mp.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_follower, args=(url, stop, out))
    proc.start()
    time.sleep(3)  # its interpreter up and LISTENing before the first batch
    engine = make_engine(url)
    commits, achieved = paced_write(
        EventWriter(engine, derive=no_derive), args.rate, args.seconds, args.batch
    )
    time.sleep(2)  # let it finish the tail before the stop (its last catch-up is not timed)
    stop.set()
    marks: Marks = out.get(timeout=600)
    proc.join()
    engine.dispose()
    return lags(commits, marks), achieved


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=10_000, help="target events/s")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--pg", default=os.environ.get("GAPWATCH_BENCH_PG"))
    parser.add_argument(
        "--mode", action="append", choices=["inline", "overlapped", "follower"],
        help="run only this mode (repeatable; default: all three)",
    )  # fmt: skip
    args = parser.parse_args()
    with server(args.pg) as base:
        print(machine(base))
        for label, mode in (
            ("inline (writer's projector)", inline),
            ("overlapped (projector thread)", overlapped),
            ("follower (NOTIFY)", follower),
        ):
            if args.mode and label.split()[0] not in args.mode:
                continue
            url = fresh_db(base)
            try:
                values, achieved = mode(url, args)
            finally:
                drop_db(url)
            print(
                f"{label:<30} target {args.rate:,}/s achieved {achieved:,.0f}/s   lag p50 "
                f"{pct(values, 0.5) * 1000:,.0f} ms  p99 {pct(values, 0.99) * 1000:,.0f} ms  "
                f"max {values[-1] * 1000:,.0f} ms"
            )
        print(f"after the runs: {machine(base)}")


if __name__ == "__main__":
    main()
