"""How fast does the simulator produce observations? (Issue 3: 1M observations in <= 30 s.)

Runs the `large` preset (300 nodes, a rollout every 15 minutes, drains, crashes, traffic) and
serializes every observation to NDJSON (recorder.ndjson.dumps) into /dev/null, stopping at
--count observations. Prints the median over --repeat runs, the time for 1M, and a baseline from
the same run: serializing the same number of ready-made observations (the floor any producer pays),
with the ratio. --ingest N also writes the first N observations through EventWriter into a fresh
SQLite store, or into a temporary database on the PostgreSQL server --pg URL (dropped afterwards),
and reports rows/s.

    python benchmarks/simulate.py [--count 1000000] [--repeat 1] [--ingest N [--pg URL]]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from sqlalchemy.engine import make_url

from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import Simulation, load_scenario
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts


def generate(count: int, seed: int) -> tuple[float, float, int]:
    """Wall and CPU seconds to simulate and serialize `count` observations; bytes written."""
    sim = Simulation(load_scenario("large"), seed)
    written = 0
    cpu = time.process_time()
    start = time.perf_counter()
    with open("/dev/null", "w", encoding="utf-8") as sink:
        for obs in islice(sim, count):
            line = dumps(obs)
            sink.write(line)
            sink.write("\n")
            written += len(line) + 1
    return time.perf_counter() - start, time.process_time() - cpu, written


def baseline(sample: list[Observation], count: int) -> float:
    """Seconds to serialize `count` observations that already exist (cycling a sample)."""
    start = time.perf_counter()
    with open("/dev/null", "w", encoding="utf-8") as sink:
        done = 0
        while done < count:
            for obs in sample[: count - done]:
                sink.write(dumps(obs))
                sink.write("\n")
            done += min(len(sample), count - done)
    return time.perf_counter() - start


def ingest(count: int, server: str | None) -> tuple[float, int]:
    """Write `count` observations into a fresh store: a temporary SQLite file, or a temporary
    database created (and dropped) on the PostgreSQL server `server`."""
    with tempfile.TemporaryDirectory() as tmp:
        if server is None:
            return _ingest(f"sqlite:///{tmp}/bench.db", count)
        name = f"gapwatch_bench_{os.getpid()}"
        admin = make_url(server).set(drivername="postgresql", database="postgres")
        dsn = admin.render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        try:
            url = make_url(server).set(database=name).render_as_string(hide_password=False)
            return _ingest(url, count)
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")


def _ingest(url: str, count: int) -> tuple[float, int]:
    engine = make_engine(url)
    try:
        upgrade(engine)
        batch = list(islice(Simulation(load_scenario("large"), 1), count))
        start = time.perf_counter()
        result = EventWriter(engine, derive=write_facts, notify=False).write_all(batch)
        return time.perf_counter() - start, result.inserted
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--ingest", type=int, default=0, help="also ingest N observations")
    parser.add_argument(
        "--pg", default=None, help="PostgreSQL server URL for --ingest (a temporary database)"
    )
    args = parser.parse_args()

    times, cpus = [], []
    for i in range(args.repeat):
        elapsed, cpu, written = generate(args.count, seed=1 + i)
        times.append(elapsed)
        cpus.append(cpu)
        print(
            f"run {i + 1}: {args.count} observations, {written / 1e6:.0f} MB "
            f"in {elapsed:.2f} s wall, {cpu:.2f} s CPU"
        )
    median = statistics.median(times)
    rate = args.count / median
    cpu_rate = args.count / statistics.median(cpus)
    print(f"simulate (large -> NDJSON): median {median:.2f} s, {rate:,.0f} observations/s")
    print(
        f"time for 1M observations: {1_000_000 / rate:.1f} s wall, "
        f"{1_000_000 / cpu_rate:.1f} s CPU (target <= 30 s; the machine is shared)"
    )

    sample = list(islice(Simulation(load_scenario("large"), 99), 50_000))
    base = baseline(sample, args.count)
    print(
        f"baseline (serialize {args.count} existing observations): {base:.2f} s, "
        f"simulation costs {median / base:.2f}x the serialization alone"
    )
    if args.ingest:
        elapsed, inserted = ingest(args.ingest, args.pg)
        print(
            f"store ingest ({'PostgreSQL' if args.pg else 'SQLite'}): {inserted} rows in "
            f"{elapsed:.2f} s, {inserted / elapsed:,.0f} rows/s"
        )


if __name__ == "__main__":
    main()
