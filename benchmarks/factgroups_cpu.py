"""Client CPU of writing a batch's facts grouped (benchmarks/factgroups.py) against today's
per-fact `write_row`s (ingest round 8, issue 15), and a check that every encoding stores the
same rows and that the rows unnest back to the facts derived.

    python benchmarks/factgroups_cpu.py [--n 100000] [--passes 5] [--batch 1000] [--pg URL]

The facts of --n observations of the realistic mix (benchmarks/observations.py) are derived once;
then each way of writing them is timed (process CPU, `time.process_time`, minimum of --passes
passes, CPython's GC as `gapwatch import` sets it) into COPY data in memory (psycopg's Copy with
a FileWriter: the same bytes `write_row` sends, nothing sent):

- today: `write_row` per fact, binary (replay.facts.insert_facts);
- grouped by factgroups.group, then psycopg's `write_row` of the list columns, binary or text
  format (psycopg dumps each list element by element in Python);
- grouped, then factgroups.text_copy (the array literals built by hand, COPY's text format).

The check (before the clock, on a fresh database of --pg's server, or a throwaway durable one):
each encoding COPYed into `facts_grouped` gives the same rows, and factgroups.UNNESTED of them
gives the derived facts, every column.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from benchmarks import factgroups
from benchmarks.ingest import encode, tune_gc
from benchmarks.observations import generate
from benchmarks.server import drop_db, dsn, fresh_db, machine, server
from gapwatch.recorder.tables import copy_types
from gapwatch.replay.facts import FACT_COLUMNS, derive_all
from gapwatch.replay.tables import facts as facts_table

FACT_TYPES = copy_types(facts_table, FACT_COLUMNS)


def hybrid(cur: psycopg.Cursor[Any], facts: list[Any], batch: int) -> bytes:
    """The hybrid layout's COPY data: the grouped rows' and the single facts'."""
    singles: list[Any] = []
    grouped = factgroups.group(facts, batch, singles)
    return factgroups.BinaryCopy().rows(grouped) + encode(cur, FACT_TYPES, singles, binary=True)


def encodings(cur: psycopg.Cursor[Any], batch: int) -> dict[str, Callable[[list[Any]], Any]]:
    """Each way of turning a batch's facts into COPY data (binary or text)."""
    types = factgroups.COPY_TYPES
    group = factgroups.group
    return {
        "today: write_row per fact, binary": lambda f: encode(cur, FACT_TYPES, f, binary=True),
        "grouped: group() alone": lambda f: group(f, batch),
        "grouped: psycopg write_row, binary arrays": lambda f: encode(
            cur, types, group(f, batch), binary=True
        ),
        "grouped: psycopg write_row, text arrays": lambda f: encode(
            cur, types, group(f, batch), binary=False
        ),
        "grouped: text_copy by hand": lambda f: factgroups.text_copy(group(f, batch)),
        "grouped: BinaryCopy by hand": lambda f: factgroups.BinaryCopy().rows(group(f, batch)),
        "hybrid: group() alone": lambda f: group(f, batch, []),
        "hybrid: BinaryCopy + singles' write_row": lambda f: hybrid(cur, f, batch),
    }


def _stored(url: str, payload: bytes, fmt: str) -> tuple[list[Any], list[Any]]:
    """COPY `payload` into a fresh facts_grouped table: (its rows, the facts they unnest to),
    each in key order."""
    cols = ", ".join(factgroups.COLUMNS)
    db = fresh_db(url, migrate=False)
    try:
        with psycopg.connect(dsn(db)) as conn, conn.cursor() as c:
            for statement in factgroups.DDL:
                c.execute(statement)
            with c.copy(f"COPY facts_grouped ({cols}) FROM STDIN (FORMAT {fmt})") as copy:
                copy.write(payload)
            rows = c.execute(f"SELECT {cols} FROM facts_grouped ORDER BY 1, 2").fetchall()
            return rows, c.execute(f"{factgroups.UNNESTED} ORDER BY 1, 2").fetchall()
    finally:
        drop_db(db)


def check(url: str, cur: psycopg.Cursor[Any], facts: list[Any], batch: int) -> None:
    """Every grouped encoding stores the same rows; they unnest back to `facts`."""
    grouped = factgroups.group(facts, batch)
    data = {
        "binary": (encode(cur, factgroups.COPY_TYPES, grouped, binary=True), "BINARY"),
        "text": (encode(cur, factgroups.COPY_TYPES, grouped, binary=False), "TEXT"),
        "by hand": (factgroups.text_copy(grouped).encode(), "TEXT"),
        "binary by hand": (factgroups.BinaryCopy().rows(grouped), "BINARY"),
    }
    stored = {}
    for label, (payload, fmt) in data.items():
        stored[label], unnested = _stored(url, payload, fmt)
        if [tuple(f) for f in facts] != unnested:
            raise SystemExit(f"{label}: the grouped rows do not unnest to the derived facts")
    singles: list[Any] = []
    hybrid = factgroups.group(facts, batch, singles)
    _, unnested = _stored(url, factgroups.BinaryCopy().rows(hybrid), "BINARY")
    if sorted([*unnested, *(tuple(f) for f in singles)]) != [tuple(f) for f in facts]:
        raise SystemExit("hybrid: the grouped rows and the single facts are not the facts")
    print(f"checked: hybrid, {len(hybrid):,} grouped rows and {len(singles):,} single facts")
    if len({repr(rows) for rows in stored.values()}) != 1:
        raise SystemExit("the encodings stored different rows")
    print(f"checked: {len(grouped):,} grouped rows, the same from each encoding, unnest to "
          f"the {len(facts):,} facts")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000, help="events per grouped batch")
    parser.add_argument("--pg", default=os.environ.get("GAPWATCH_BENCH_PG"))
    args = parser.parse_args()
    tune_gc()
    facts = derive_all(enumerate(generate(args.n, seed=7), start=1))
    with server(args.pg) as url, psycopg.connect(dsn(url)) as conn, conn.cursor() as cur:
        print(machine(url))
        check(url, cur, facts, args.batch)
        ways = encodings(cur, args.batch)
        best = {label: float("inf") for label in ways}
        sizes = {}
        for _ in range(args.passes):
            for label, way in ways.items():
                start = time.process_time()
                out = way(facts)
                best[label] = min(best[label], time.process_time() - start)
                sizes[label] = len(out)
        print(f"after: {machine(url)}")
    print(f"\n{args.n:,} events, {len(facts):,} facts, batches of {args.batch:,} events")
    print(f"{'process CPU, min of passes':<46}{'s':>7}{'us/event':>10}{'us/fact':>9}  size")
    for label, seconds in best.items():
        size = f"{sizes[label]:,} rows" if "alone" in label else f"{sizes[label] / 1e6:.1f} MB"
        print(f"{label:<46}{seconds:>7.3f}{seconds / args.n * 1e6:>10.2f}"
              f"{seconds / len(facts) * 1e6:>9.2f}  {size}")  # fmt: skip


if __name__ == "__main__":
    main()
