"""What day partitions (migration 0007) cost the writer: rows/s into `events` before and after.

    python benchmarks/partitioned_ingest.py [--n 100000] [--repeat 3] [--pg URL]

Each run writes --n observations of the realistic mix (benchmarks/observations.py; 60% object
changes) with `EventWriter(derive=no_derive)` into a fresh database, alternately migrated to
0005 (one plain table, written by the writer as it was before 0007: its two statements are
swapped in) and to head (day partitions, the rows spread over two days, the object changes'
keys also copied into `event_keys`). A second pass writes the same rows again (every one a
duplicate: the writer's staging path, where `event_keys` is consulted). Prints medians and the
ratios partitioned / plain. Without --pg (or GAPWATCH_BENCH_PG) a throwaway PostgreSQL 15 with
its default durability is started (tests/pgserver.py); say which server the figures came from.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from benchmarks.observations import START, from_pool
from benchmarks.servers import bench_server, drop_db, new_db
from gapwatch.recorder import writer as writer_module
from gapwatch.recorder.maintain import maintain
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.writer import EventWriter, no_derive

PARTITIONED_INSERT = writer_module._INSERT_FROM_STAGE
PARTITIONED_KEYS = writer_module._copy_keys
#: The writer before 0007, for the plain store: no `event_keys`, the old ON CONFLICT target.
PLAIN_INSERT = f"""
WITH stored AS (
    INSERT INTO events ({writer_module._COLS})
    SELECT {writer_module._COLS} FROM gapwatch_stage ORDER BY seq
    ON CONFLICT (cluster, dedupe_key) DO NOTHING RETURNING 1
) SELECT count(*) FROM stored
"""


def _no_keys(cur: object, rows: object) -> None:
    """The plain store has no `event_keys`."""


def one_run(server: str, revision: str, n: int) -> tuple[float, float]:
    """(rows/s new, rows/s all duplicates) into a fresh store at `revision`."""
    url = new_db(server)
    engine = make_engine(url)
    upgrade(engine, revision)
    if revision == "head":
        maintain(engine, now=START - timedelta(days=1), ahead_days=3)
    # 5 ms apart: n rows span n * 5 ms; start 10 minutes before midnight so they cross it
    shift = timedelta(days=1) - timedelta(minutes=10)
    rows = [replace(r, observed_at=r.observed_at + shift) for r in from_pool(n)]
    # the plain store gets the statement the writer had before 0007 (no event_keys there)
    plain = revision == "0005"
    writer_module._INSERT_FROM_STAGE = PLAIN_INSERT if plain else PARTITIONED_INSERT
    writer_module._copy_keys = _no_keys if plain else PARTITIONED_KEYS
    writer = EventWriter(engine, derive=no_derive)
    started = time.perf_counter()
    writer.write_all(rows)
    fresh = n / (time.perf_counter() - started)
    started = time.perf_counter()
    again = EventWriter(engine, derive=no_derive).write_all(rows)
    dupes = n / (time.perf_counter() - started)
    assert again.inserted == 0
    engine.dispose()
    drop_db(server, url)
    return fresh, dupes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("GAPWATCH_BENCH_PG"))
    args = parser.parse_args()
    with bench_server(args.pg) as server:
        runs: dict[str, list[tuple[float, float]]] = {"0005": [], "head": []}
        for _ in range(args.repeat):
            for revision in runs:  # alternate, so both see the same machine load
                runs[revision].append(one_run(server, revision, args.n))
        med = {
            r: (statistics.median(f for f, _ in v), statistics.median(d for _, d in v))
            for r, v in runs.items()
        }
        print(f"{args.n:,} rows, medians of {args.repeat}; rows/s")
        print("| path | plain (0005) | day partitions (head) | ratio |")
        print("|---|---|---|---|")
        for i, label in enumerate(("new rows (COPY fast path)", "all duplicates (staging)")):
            plain, parted = med["0005"][i], med["head"][i]
            print(f"| {label} | {plain:,.0f} | {parted:,.0f} | {parted / plain:.2f} |")


if __name__ == "__main__":
    main()
