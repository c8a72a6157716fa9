"""Ingest benchmark: every ingest path beside the raw COPY of the same rows, same run, same server.

    python benchmarks/ingest.py [--n 100000] [--repeat 3] [--pg URL] [--naive-n N]

Without --pg (or GAPWATCH_BENCH_PG) it starts a throwaway PostgreSQL 15 with the server's DEFAULT
durability (benchmarks/server.py); the line above the figures says which durability the server
had. Every run writes into a fresh, migrated database. The rows are --n observations of the
realistic mix (benchmarks/observations.py: probes, target health, EndpointSlices, Pods, Nodes;
~1 KB on average), the same rows for every path:

- raw COPY (the baseline, the physical limit with the `events` indexes): psycopg
  `COPY events FROM STDIN (FORMAT BINARY)`, `write_row` of rows prepared before the clock
  starts, one transaction;
- writer, events only: `EventWriter(derive=no_derive).write_all` in batches of --batch;
- writer, events + facts: the same, with the facts projector deriving after each commit
  (what the recorder does);
- import, end to end: `gapwatch import events` of an NDJSON file of the same observations (the
  library call, so interpreter start-up is not counted), facts available when it returns;
- naive: the SQLAlchemy ORM, one INSERT and one COMMIT per row, on --naive-n rows (default
  the same --n; it takes long on a durable server).

The paths run round-robin, --repeat rounds, so drifting load hits all of them alike. Prints each
path's median rows/s, its ratio to the raw COPY's median, the median of its per-round ratios
(each round against that round's COPY: steadier on a shared machine), the facts stored and the
runs. Then the CPU this process (every thread: parsing, deriving, writing) spent per row on each
path, medians: on a loaded machine wall-clock ratios follow the load, this does not. (The
server's share was tried from /proc, the postmaster's reaped children, and came out erratic:
not printed.)
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from sqlalchemy.orm import Session, registry

from benchmarks.observations import generate
from benchmarks.server import drop_db, dsn, fresh_db, machine, server
from gapwatch.recorder.importer import import_files
from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import EVENT_COLUMNS, copy_types, events
from gapwatch.recorder.writer import EventWriter, _JsonTextDumper, no_derive, prepare
from gapwatch.replay.facts import write_facts

ORM_FIELDS = ("cluster", "observed_at", "source", "kind", "op", "namespace", "name", "node",
              "source_time", "resource_version", "previous_observed_at")  # fmt: skip


def tune_gc() -> None:
    """Make CPython's cyclic GC run less often (`--default-gc` keeps its thresholds).

    Ingest allocates millions of short-lived dicts that never form cycles; with the default
    thresholds (700, 10, 10) full collections keep rescanning the live batches and cost more than
    the work itself (measured: generating 100,000 observations took 2.1 s instead of 0.7 s).
    Objects that survive start-up are frozen out of collection. `gapwatch import` does the same
    (recorder/importer.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def raw_copy(url: str, rows: list[tuple[Any, ...]]) -> float:
    """The physical limit: binary COPY of prepared rows, one transaction."""
    cols = ", ".join(EVENT_COLUMNS)
    with psycopg.connect(dsn(url)) as conn, conn.cursor() as cur:
        cur.adapters.register_dumper(None, _JsonTextDumper)
        start = time.perf_counter()
        with cur.copy(f"COPY events ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(copy_types(events, EVENT_COLUMNS))
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - start


def writer(url: str, observations: list[Observation], batch: int, *, facts: bool) -> float:
    engine = make_engine(url)
    write = EventWriter(engine, derive=write_facts if facts else no_derive)
    start = time.perf_counter()
    result = write.write_all(iter(observations), batch_size=batch)
    elapsed = time.perf_counter() - start
    engine.dispose()
    if result.inserted != len(observations):
        raise SystemExit(f"expected {len(observations)} rows stored, got {result.inserted}")
    return elapsed


def import_file(url: str, path: str, n: int, batch: int) -> float:
    engine = make_engine(url)
    start = time.perf_counter()
    report = import_files(engine, [path], derive=write_facts, batch_size=batch)
    elapsed = time.perf_counter() - start
    engine.dispose()
    if report.written.inserted != n or report.error_count:
        raise SystemExit(f"import stored {report.written.inserted} of {n} rows")
    return elapsed


class Row:
    pass


def naive(url: str, observations: list[Observation]) -> float:
    """An ORM object per row, INSERT + COMMIT per row."""
    engine = make_engine(url)
    mapper = registry()
    mapper.map_imperatively(Row, events)
    start = time.perf_counter()
    with Session(engine) as session:
        for obs in observations:
            row = Row()
            for key in ORM_FIELDS:
                setattr(row, key, getattr(obs, key))
            row.dedupe_key = obs.dedupe_key()  # type: ignore[attr-defined]
            row.payload = obs.payload  # type: ignore[attr-defined]
            session.add(row)
            session.commit()
    elapsed = time.perf_counter() - start
    mapper.dispose()
    engine.dispose()
    return elapsed


def facts_count(url: str) -> int:
    with psycopg.connect(dsn(url)) as conn:
        return int(conn.execute("SELECT count(*) FROM facts").fetchone()[0])  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="observations per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--naive-n", type=int, help="rows for the naive path (default --n)")
    parser.add_argument("--pg", default=os.environ.get("GAPWATCH_BENCH_PG"))
    parser.add_argument("--default-gc", action="store_true", help="keep CPython's GC thresholds")
    args = parser.parse_args()
    if not args.default_gc:
        tune_gc()
    n, naive_n = args.n, args.naive_n if args.naive_n is not None else args.n
    observations = list(generate(n, seed=7))
    rows = [prepare(obs)[1] for obs in observations]
    workdir = Path(tempfile.mkdtemp(prefix="gapwatch-bench-ingest-"))
    ndjson = workdir / "observations.ndjson"
    with ndjson.open("w") as out:
        for obs in observations:
            out.write(dumps(obs) + "\n")

    paths: dict[str, tuple[int, Callable[[str], float]]] = {
        "raw COPY (write_row), the baseline": (n, lambda url: raw_copy(url, rows)),
        "writer, events only": (n, lambda url: writer(url, observations, args.batch, facts=False)),
        "writer, events + facts (projector)": (
            n,
            lambda url: writer(url, observations, args.batch, facts=True),
        ),
        "import events, end to end from NDJSON": (
            n,
            lambda url: import_file(url, str(ndjson), n, args.batch),
        ),
        "naive (ORM, commit per row)": (naive_n, lambda url: naive(url, observations[:naive_n])),
    }
    times: dict[str, list[float]] = {label: [] for label in paths}
    cpu: dict[str, list[float]] = {label: [] for label in paths}
    facts: dict[str, int] = {}
    with server(args.pg) as base:
        print(machine(base))
        print(f"{n:,} observations, {ndjson.stat().st_size / n:,.0f} bytes per NDJSON line")
        for _ in range(args.repeat):
            for label, (_count, run) in paths.items():
                url = fresh_db(base)
                try:
                    before = client_cpu()
                    times[label].append(run(url))
                    cpu[label].append(client_cpu() - before)
                    facts[label] = facts_count(url)
                finally:
                    drop_db(url)
        print(f"after the runs: {machine(base)}")
    ndjson.unlink()
    workdir.rmdir()

    copies = times["raw COPY (write_row), the baseline"]
    base_rate = n / statistics.median(copies)
    print(f"\n{'path':<42}{'rows/s':>10}{'vs COPY':>9}{'per round':>11}  facts   runs (s)")
    for label, (count, _run) in paths.items():
        rate = count / statistics.median(times[label])
        # each round's ratio to that round's COPY: steadier than medians when the load drifts
        rounds = statistics.median(
            (count / t) / (n / c) for t, c in zip(times[label], copies, strict=True)
        )
        runs = ", ".join(f"{t:.2f}" for t in times[label])
        print(
            f"{label:<42}{rate:>10,.0f}{rate / base_rate:>8.2f}x{rounds:>10.2f}x "
            f"{facts[label]:>8,}  {runs}"
        )
    print_cpu(paths, cpu)


def client_cpu() -> float:
    """CPU seconds of this process so far, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def print_cpu(
    paths: dict[str, tuple[int, Callable[[str], float]]], cpu: dict[str, list[float]]
) -> None:
    """This process's CPU per row on each path, median of the runs."""
    print(f"\n{'client CPU per row (us), median':<42}{'us':>10}")
    for label, (count, _run) in paths.items():
        print(f"{label:<42}{statistics.median(cpu[label]) / count * 1e6:>10.1f}")


if __name__ == "__main__":
    main()
