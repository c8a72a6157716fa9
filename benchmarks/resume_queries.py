"""What a recorder's start reads from PostgreSQL: the plans and times of its queries on `events`.

    python benchmarks/resume_queries.py [--n 200000] [--days 7] [--repeat 5] [--pg URL]

At start the Kubernetes source reads, per stream, the newest row of every object
(recorder/sources/k8s/storeio.py `load_start`: what a relist diffs against) and, for a
checkpoint an older recorder wrote without its `at` stamp, the newest `observed_at` of that
stream (`load_resume_times`: where the stretch a relist passed over starts). This fills a fresh
store with --n rows of the realistic mix (benchmarks/observations.py: 60% probe and LB rows
without a resourceVersion, 40% EndpointSlice, Pod and Node changes) spread over --days day
partitions, plus 50 Service rows on the first day only (a stream whose newest row is old), adds
unstamped checkpoints for the four streams, runs VACUUM ANALYZE (as autovacuum leaves an
append-only table: index-only scans need its visibility map), and then runs the two functions as the
recorder does, capturing each SQL statement they send: prints its `EXPLAIN (ANALYZE, BUFFERS)`
plan and the median wall time of each function over --repeat runs. Without --pg (or
GAPWATCH_BENCH_PG) a throwaway PostgreSQL 15 with its default durability is started
(tests/pgserver.py); say which server the figures came from.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, event, text

from benchmarks.observations import START, from_pool
from benchmarks.servers import bench_server, drop_db, new_db
from gapwatch.recorder.maintain import maintain
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.k8s.storeio import load_resume_times, load_start
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.tables import source_checkpoints
from gapwatch.recorder.writer import EventWriter, no_derive

CLUSTER = "bench"
#: a day partition's (or the default's) name in a plan, and its alias
PARTITION = re.compile(r"events_(p\d{8}|default)( events_\d+\b)?")
STREAMS: list[tuple[str, str | None]] = [
    ("Service", None),
    ("Node", None),
    ("Pod", None),
    ("EndpointSlice", None),
]


def _services(at: datetime) -> Iterator[Observation]:
    for i in range(50):
        meta = {"namespace": f"ns-{i % 5}", "name": f"svc-{i}", "resourceVersion": str(10 + i)}
        yield Observation(
            observed_at=at + timedelta(seconds=i), cluster=CLUSTER, source="k8s-watch",
            kind="Service", op="ADDED", namespace=meta["namespace"], name=meta["name"],
            resource_version=meta["resourceVersion"],
            payload={"metadata": meta, "spec": {"type": "LoadBalancer",
                                                "externalTrafficPolicy": "Local"}},
        )  # fmt: skip


def fill(engine: Engine, n: int, days: int) -> None:
    """--n rows over `days` day partitions, the Services on the first, unstamped checkpoints."""
    maintain(engine, now=START, ahead_days=days)
    step = timedelta(seconds=days * 86_400 / n)
    rows = [replace(r, observed_at=START + step * i) for i, r in enumerate(from_pool(n))]
    EventWriter(engine, derive=no_derive).write_all([*_services(START), *rows])
    with engine.begin() as conn:
        for kind, _ in STREAMS:
            conn.execute(
                source_checkpoints.insert().values(
                    cluster=CLUSTER, source="k8s-watch", key=kind,
                    value={"resourceVersion": "99999999"}, updated_at=datetime.now(UTC),
                )
            )  # fmt: skip
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # as autovacuum leaves an append-only table


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements on `events` sent inside the block, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if " events" in statement and not statement.lstrip().upper().startswith("EXPLAIN"):
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def explain(engine: Engine, statement: str, params: Any) -> list[str]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        return [row[0] for row in cur.fetchall()]
    finally:
        raw.close()


def condensed(plan: list[str]) -> str:
    """The plan's nodes with the partitions folded into one (`events_p*`) and counted, what the
    scans filter on, and the execution time: the shape, not 17 copies of it."""
    counts: dict[str, int] = {}
    for line in plan:
        text_ = PARTITION.sub("events_p*", line.strip().lstrip("-> ")).split("  (cost")[0]
        if text_.startswith(("Buffers", "Planning", "Worker", "Batches", "Sort Method")):
            continue
        if text_.startswith("Execution Time"):
            counts[text_] = 1
        elif " on " in text_ or text_.startswith(("Index Cond", "Filter")) or text_[:1].isupper():
            counts[text_] = counts.get(text_, 0) + 1
    return "\n".join(f"    {n}x {t}" if n > 1 else f"    {t}" for t, n in counts.items())


def timed(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg", default=os.environ.get("GAPWATCH_BENCH_PG"))
    args = parser.parse_args()
    with bench_server(args.pg) as server:
        url = new_db(server)
        engine = make_engine(url)
        try:
            upgrade(engine)
            fill(engine, args.n, args.days)

            def start() -> object:
                return load_start(
                    engine, cluster=CLUSTER, streams=STREAMS, objects_of=("Service", "Node")
                )

            def resume_times() -> object:
                return load_resume_times(engine, cluster=CLUSTER, streams=STREAMS)

            for name, run in (("load_start", start), ("load_resume_times", resume_times)):
                with captured(engine) as seen:
                    run()
                print(f"## {name}: median {timed(run, args.repeat) * 1000:.1f} ms")
                for statement, params in seen:
                    print(" ".join(statement.split()), params)
                    print(condensed(explain(engine, statement, params)))
        finally:
            engine.dispose()
            drop_db(server, url)


if __name__ == "__main__":
    main()
