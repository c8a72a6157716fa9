"""Replay's reads of facts by Service and time on the grouped layouts (ingest round 8, issue 15).

    python benchmarks/grouped_reads.py [--pg URL] [--events 1000000] [--repeat 7] [--batch 1000]

benchmarks/fact_reads.py's store and reads (Q1 a Service's whole history, Q2-Q4 replay.scope's
reads for a range, Q5 touched_share's count), against the facts as they are (`facts`, heap in
at_us order, its present index) and against the same facts rewritten as benchmarks/factgroups.py
lays them out, per batch of --batch events taken in at_us order (as a log is written):

- `grouped`: every fact in `facts_grouped` rows (one per key per batch);
- `hybrid`: a key's facts of a batch grouped when it has more than one there, its only fact a
  plain row of `facts_singles` (the facts' columns, primary key and present index).

A read of a grouped layout is the same read of `facts_singles` UNION ALL the grouped rows whose
key matches (and, for a time range, whose [lo_us, hi_us] meets it), unnested and filtered per
fact again: what replay's readers would issue (a view could hide the union, not the cost).
Each read is a binary COPY TO of its rows, warm, median of --repeat, with the plan's scans; its
rows must equal the same read's on `facts` (checked before the clock).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from benchmarks import factgroups
from benchmarks.fact_reads import (
    CLUSTER,
    COLS,
    HI,
    LO,
    NAMESPACE,
    SERVICE,
    VARIANTS,
    built_store,
    queries,
    scans,
    timed,
)

#: The unnested grouped rows, one per fact, named as `facts`' columns.
_UNNEST = factgroups.UNNESTED.split(" FROM ", 1)[1]
_U_COLS = ", ".join(f"g.{c}" if c in factgroups.KEY else f"u.{c}" for c in COLS.split(", "))
NAMESPACE_WIDE = "('pod', 'workload', 'apireq', 'relist')"
CLUSTER_WIDE = "('node', 'access', 'member', 'sync', 'apireq', 'tgconf', 'relist')"


def both(cols: str, where_g: str, where_u: str = "TRUE", where_f: str | None = None) -> str:
    """The facts of `facts_singles` and of the grouped rows: `where_g` on the grouped row's
    key and range, `where_u` on each unnested fact; `where_f` on a single fact (default both)."""
    g_cols = _U_COLS if cols == COLS else cols
    single = where_f or f"{where_g} AND {where_u}".replace("g.", "").replace("u.", "")
    return (
        f"SELECT {cols} FROM facts_singles WHERE {single} UNION ALL "
        f"SELECT {g_cols} FROM {_UNNEST} WHERE {where_g} AND {where_u}"
    )


def grouped_queries(pods: list[str]) -> dict[str, str]:
    """fact_reads.queries' reads on the grouped layouts (same labels)."""
    key = f"cluster = '{CLUSTER}' AND namespace = '{NAMESPACE}' AND name = '{SERVICE}'"
    g_key = (
        key.replace("cluster", "g.cluster")
        .replace("namespace", "g.namespace")
        .replace("name =", "g.name =")
    )
    slices = f"{g_key} AND g.fact = 'slice'"
    whole = (
        f"g.cluster = '{CLUSTER}' AND (({g_key}) OR (g.namespace = '{NAMESPACE}' AND g.fact IN "
        f"{NAMESPACE_WIDE}) OR (g.namespace IS NULL AND g.fact IN {CLUSTER_WIDE}))"
    )
    names = ", ".join(f"'{p}'" for p in pods)
    out = {
        "Q1 a Service's whole history": both(COLS, whole, "u.event_id > 0"),
        "Q2 scope: slices in the range": both(
            COLS,
            f"{slices} AND g.lo_us < {HI} AND g.hi_us >= {LO}",
            f"u.at_us >= {LO} AND u.at_us < {HI}",
            f"{key} AND fact = 'slice' AND at_us >= {LO} AND at_us < {HI}",
        ),
        # the grouped rows of the key that start before LO, newest first: the version holding
        # at LO is in the newest two (batches in time order do not overlap but at their ends)
        "Q3 scope: walk back, LIMIT 1": (
            "SELECT event_id, text1 FROM (SELECT * FROM (SELECT event_id, at_us, text1 FROM "
            f"facts_singles WHERE {key} AND fact = 'slice' AND seq = 0 AND at_us < {LO} "
            "ORDER BY at_us DESC LIMIT 1) s UNION ALL SELECT u.event_id, u.at_us, u.text1 FROM "
            f"(SELECT * FROM facts_grouped g WHERE {slices} AND g.lo_us < {LO} "
            "ORDER BY g.lo_us DESC LIMIT 2) g, unnest(g.event_ids, g.seqs, g.at_uss, g.text1s) "
            f"AS u(event_id, seq, at_us, text1) WHERE u.seq = 0 AND u.at_us < {LO}) x "
            "ORDER BY at_us DESC LIMIT 1"
        ),
        f"Q4 scope: {len(pods)} pods by name": both(
            COLS,
            f"g.cluster = '{CLUSTER}' AND g.namespace = '{NAMESPACE}' AND g.name IN ({names}) "
            "AND g.fact = 'pod'",
            "TRUE",
            f"cluster = '{CLUSTER}' AND namespace = '{NAMESPACE}' AND name IN ({names}) "
            "AND fact = 'pod'",
        ),
        "Q5 touched_share: count": (
            f"SELECT (SELECT count(*) FROM facts_singles WHERE {key}) + (SELECT "
            f"coalesce(sum(g.n), 0) FROM facts_grouped g WHERE {g_key})"
        ),
    }
    if not pods:
        del out[f"Q4 scope: {len(pods)} pods by name"]
    return out


def lay_out(conn: psycopg.Connection[Any], batch: int, *, hybrid: bool) -> tuple[int, int]:
    """`facts_grouped` and `facts_singles` from `facts`, batches of `batch` events in at_us
    order; returns (grouped rows, single facts)."""
    for table in ("facts_grouped", "facts_singles"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in factgroups.LZ4:
        conn.execute(statement)
    conn.execute("CREATE TABLE facts_singles (LIKE facts)")
    conn.execute("ALTER TABLE facts_singles ADD PRIMARY KEY (event_id, seq, cluster)")
    conn.execute("CREATE INDEX ix_singles ON facts_singles (cluster, namespace, name, at_us)")
    ordered = conn.execute(f"SELECT {COLS} FROM facts ORDER BY at_us, event_id, seq").fetchall()
    grouped: list[tuple[Any, ...]] = []
    singles: list[Any] | None = [] if hybrid else None
    chunk: list[Any] = []
    seen: set[int] = set()
    for fact in ordered:
        if fact[0] not in seen and len(seen) == batch:
            grouped += factgroups.group(chunk, 10**18, singles)
            chunk, seen = [], set()
        seen.add(fact[0])
        chunk.append(fact)
    grouped += factgroups.group(chunk, 10**18, singles)
    cols = ", ".join(factgroups.COLUMNS)
    with conn.cursor() as cur:
        with cur.copy(f"COPY facts_grouped ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(factgroups.BinaryCopy().rows(grouped))
        with cur.copy(f"COPY facts_singles ({COLS}) FROM STDIN") as copy:
            for fact in sorted(singles or [], key=lambda f: f[3]):
                copy.write_row(fact)
    conn.execute("ANALYZE facts_grouped")
    conn.execute("ANALYZE facts_singles")
    check = "SELECT count(*) FROM facts_singles UNION ALL SELECT sum(n) FROM facts_grouped"
    counts = [int(r[0] or 0) for r in conn.execute(check)]
    if sum(counts) != len(ordered):
        raise SystemExit(f"laid out {sum(counts)} facts of {len(ordered)}")
    return len(grouped), len(singles or [])


def sizes(conn: psycopg.Connection[Any], tables: tuple[str, ...]) -> str:
    parts = []
    for table in tables:
        row = conn.execute(
            f"SELECT pg_relation_size('{table}'), pg_total_relation_size('{table}') "
            f"- pg_relation_size('{table}') - pg_indexes_size('{table}'), "
            f"pg_indexes_size('{table}')"
        ).fetchone()
        assert row is not None
        parts.append(f"{table} heap/TOAST/indexes {row[0] / 1e6:.1f}/{row[1] / 1e6:.1f}/"
                     f"{row[2] / 1e6:.1f} MB")  # fmt: skip
    return "; ".join(parts)


def run(
    conn: psycopg.Connection[Any], reads: dict[str, str], repeat: int, found: dict[str, Any]
) -> None:
    """Time each read; its rows must be the ones the same read found on `facts` (`found`,
    filled by the first layout measured)."""
    with conn.cursor() as cur:
        for label, sql in reads.items():
            rows = sorted(conn.execute(sql).fetchall(), key=repr)
            if found.setdefault(label, rows) != rows:
                raise SystemExit(f"{label}: not the rows the read of facts finds")
            runs = [timed(cur, sql) for _ in range(repeat)]
            print(f"  {label:<32}{statistics.median(runs) * 1e3:>9.1f} ms  {scans(conn, sql)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", default=os.environ.get("GAPWATCH_BENCH_PG"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    with built_store(args.pg, args.events, VARIANTS["current"]) as (conn, pods):
        found: dict[str, Any] = {}
        for variant in ("current", "hybrid", "grouped", "current"):
            print(f"{variant} (load {os.getloadavg()[0]:.1f}):")
            if variant == "current":
                print(f"  {sizes(conn, ('facts',))}")
                run(conn, queries("current", pods), args.repeat, found)
                continue
            made = lay_out(conn, args.batch, hybrid=variant == "hybrid")
            print(f"  {made[0]:,} grouped rows, {made[1]:,} single facts; "
                  f"{sizes(conn, ('facts_grouped', 'facts_singles'))}")  # fmt: skip
            run(conn, grouped_queries(pods), args.repeat, found)


if __name__ == "__main__":
    main()
