"""Replay's reads of `facts` by Service and time, per candidate index (ingest round 7, issue 15).

    python benchmarks/fact_reads.py [--pg URL] [--events 1000000] [--repeat 7] [VARIANT ...]

`ix_facts_cluster_namespace_name_at_us` costs the facts' COPY most of its server time
(benchmarks/ingest.py --facts-costs, --facts-indexes); this measures what the reads that use it
would pay for a cheaper one. It builds benchmarks/replay.py's synthetic store (--events facts of
50 Services, one namespace each, 20 nodes; facts shaped like the simulator's) in a fresh database,
rewrites the heap in `at_us` order (a log is written in time order, so a Service's facts are
spread over every page, not stored together as the generator emits them), then per variant
(the listed ones, in order; default: every one, then `current` again) drops the secondary
indexes, builds the variant's, ANALYZEs and times each read (binary COPY TO of the rows, warm,
median of --repeat), with the plan's scans:

- Q1 a Service's whole history, replay.factsql's `where` (per-Service fold: what-if and advice
  without a range, `assumptions`, a refresh without a checkpoint);
- Q2, Q3, Q4 replay.scope (what-if over a range): the Service's EndpointSlice facts in the range,
  the walk back to the version holding at its start, its pods by name;
- Q5 replay.projections.touched_share's count of a Service's facts.

Variants: `current` (cluster, namespace, name, at_us); `hashed` (hashtextextended of cluster,
namespace and name; at_us), the queries given the hash as well; `hashed+partial` the same plus
(cluster, namespace) over the facts that name no Service (what Q1 needs beside it); `brin` on
at_us; `none`. Without --pg (or GAPWATCH_BENCH_PG) a throwaway durable PostgreSQL 15.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from benchmarks.replay import T0, build
from benchmarks.server import drop_db, dsn, fresh_db, machine, server
from gapwatch.replay.assumptions import US
from gapwatch.replay.facts import FACT_COLUMNS

COLS = ", ".join(FACT_COLUMNS)
HASH = (
    "hashtextextended(cluster || chr(31) || coalesce(namespace, '') || chr(31) "
    "|| coalesce(name, ''), 0)"
)
NAMESPACE_WIDE = (
    "fact IN ('pod', 'workload', 'apireq', 'relist', 'node', 'access', 'member', 'sync', 'tgconf')"
)
VARIANTS: dict[str, tuple[str, ...]] = {
    "current": ("CREATE INDEX ix_v_current ON facts (cluster, namespace, name, at_us)",),
    "hashed": (f"CREATE INDEX ix_v_hashed ON facts (({HASH}), at_us)",),
    "hashed+partial": (
        f"CREATE INDEX ix_v_hashed ON facts (({HASH}), at_us)",
        f"CREATE INDEX ix_v_partial ON facts (cluster, namespace) WHERE {NAMESPACE_WIDE}",
    ),
    "brin": ("CREATE INDEX ix_v_brin ON facts USING brin (at_us)",),
    "none": (),
}
DROP = ("ix_v_current", "ix_v_hashed", "ix_v_partial", "ix_v_brin")
#: the Service read, and the range of the scope reads: 10 minutes around its second hour
CLUSTER, NAMESPACE, SERVICE = "bench", "ns-7", "gateway"
LO, HI = T0 + 6600 * US, T0 + 8400 * US


def _hash(cluster: str, namespace: str, name: str) -> str:
    return f"hashtextextended('{cluster}' || chr(31) || '{namespace}' || chr(31) || '{name}', 0)"


def queries(variant: str, pods: list[str]) -> dict[str, str]:
    """The reads, as replay issues them (literal values; with the hash when the variant has it)."""
    hashed = variant.startswith("hashed")
    key = f"{HASH} = {_hash(CLUSTER, NAMESPACE, SERVICE)}"
    own = key if hashed else f"(namespace = '{NAMESPACE}' AND name = '{SERVICE}')"
    also = f" AND {key}" if hashed else ""
    of = (
        f"cluster = '{CLUSTER}' AND namespace = '{NAMESPACE}' AND name = '{SERVICE}' "
        f"AND fact = 'slice'{also}"
    )
    names = ", ".join(f"'{p}'" for p in pods)
    pod_keys = ", ".join(_hash(CLUSTER, NAMESPACE, p) for p in pods)
    by_pod = f" AND {HASH} IN ({pod_keys})" if hashed else ""
    reads = {
        "Q1 a Service's whole history": (
            f"SELECT {COLS} FROM facts WHERE event_id > 0 AND cluster = '{CLUSTER}' AND ({own} "
            f"OR (namespace = '{NAMESPACE}' AND fact IN ('pod', 'workload', 'apireq', 'relist'))"
            " OR (namespace IS NULL AND fact IN ('node', 'access', 'member', 'sync', 'apireq',"
            " 'tgconf', 'relist')))"
        ),
        "Q2 scope: slices in the range": (
            f"SELECT {COLS} FROM facts WHERE {of} AND at_us >= {LO} AND at_us < {HI}"
        ),
        "Q3 scope: walk back, LIMIT 1": (
            f"SELECT event_id, text1 FROM facts WHERE {of} AND seq = 0 AND at_us < {LO} "
            "ORDER BY at_us DESC LIMIT 1"
        ),
        f"Q4 scope: {len(pods)} pods by name": (
            f"SELECT {COLS} FROM facts WHERE cluster = '{CLUSTER}' AND namespace = '{NAMESPACE}' "
            f"AND name IN ({names}) AND fact = 'pod'{by_pod}"
        ),
        "Q5 touched_share: count": (
            f"SELECT count(*) FROM facts WHERE cluster = '{CLUSTER}' "
            f"AND namespace = '{NAMESPACE}' AND name = '{SERVICE}'{also}"
        ),
    }
    if not pods:  # a store too small to reach the range
        del reads[f"Q4 scope: {len(pods)} pods by name"]
    return reads


def timed(cur: psycopg.Cursor[Any], sql: str) -> float:
    start = time.perf_counter()
    with cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)") as copy:
        for _block in copy:
            pass
    return time.perf_counter() - start


def scans(conn: psycopg.Connection[Any], sql: str) -> str:
    plan = [str(r[0]) for r in conn.execute("EXPLAIN " + sql)]
    steps = [p.strip().removeprefix("->").strip().split("  (")[0] for p in plan]
    return "; ".join(s for s in steps if "Scan" in s or s.startswith(("Limit", "Sort")))


def time_order(conn: psycopg.Connection[Any]) -> None:
    """Rewrite `facts` in at_us order (as a log writes it), keeping its primary key."""
    conn.execute("CREATE TABLE facts_by_time AS SELECT * FROM facts ORDER BY at_us, event_id, seq")
    conn.execute("DROP TABLE facts CASCADE")  # v_lane_samples: not read here
    conn.execute("ALTER TABLE facts_by_time RENAME TO facts")
    conn.execute("ALTER TABLE facts ADD PRIMARY KEY (event_id, seq, cluster)")


def ordered_store_pods(conn: psycopg.Connection[Any]) -> list[str]:
    """The store rewritten in at_us order (`time_order`), then the pods of the read's namespace
    inside its range, by name (the scope's by-name read, Q4)."""
    time_order(conn)
    return [
        str(r[0])
        for r in conn.execute(
            "SELECT DISTINCT name FROM facts WHERE cluster = %s AND namespace = %s "
            "AND fact = 'pod' AND at_us >= %s AND at_us < %s ORDER BY name",
            (CLUSTER, NAMESPACE, LO, HI),
        )
    ]


def measure(conn: psycopg.Connection[Any], variant: str, pods: list[str], repeat: int) -> None:
    for name in (*DROP, "ix_facts_cluster_namespace_name_at_us"):
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    start = time.perf_counter()
    for statement in VARIANTS[variant]:
        conn.execute(statement)
    built = time.perf_counter() - start
    conn.execute("ANALYZE facts")
    size = conn.execute(
        "SELECT coalesce(sum(pg_relation_size(indexrelid)), 0)::bigint FROM pg_index "
        "WHERE indrelid = 'facts'::regclass AND NOT indisprimary"
    ).fetchone()
    mb = int(size[0]) / 1e6 if size else 0.0
    load = os.getloadavg()[0]
    print(f"{variant}: secondary index built in {built:.2f} s, {mb:.1f} MB (load {load:.1f})")
    with conn.cursor() as cur:
        for label, sql in queries(variant, pods).items():
            runs = [timed(cur, sql) for _ in range(repeat)]
            print(f"  {label:<32}{statistics.median(runs) * 1e3:>9.1f} ms  {scans(conn, sql)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("variants", nargs="*", metavar="VARIANT", help=", ".join(VARIANTS))
    parser.add_argument("--pg", default=os.environ.get("GAPWATCH_BENCH_PG"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    variants = args.variants or [*VARIANTS, "current"]
    if unknown := set(variants) - set(VARIANTS):
        parser.error(f"unknown variants {sorted(unknown)}: choose from {', '.join(VARIANTS)}")
    with built_store(args.pg, args.events) as (conn, pods):
        for variant in variants:
            measure(conn, variant, pods, args.repeat)


@contextmanager
def built_store(
    pg: str | None, events: int, prepare: Sequence[str] = ()
) -> Iterator[tuple[psycopg.Connection[Any], list[str]]]:
    """A fresh store of `events` events (replay.py's build) on the server, its connection
    (autocommit) and its pods in store order, after the `prepare` statements and ANALYZE where
    there are any; the machine printed before and after, the database dropped at the end."""
    with server(pg) as base:
        print(machine(base))
        url = fresh_db(base)
        try:
            rows = build(url, 50, 20, events, 20)
            with psycopg.connect(dsn(url), autocommit=True) as conn:
                pods = ordered_store_pods(conn)
                for statement in prepare:
                    conn.execute(statement)
                if prepare:
                    conn.execute("ANALYZE facts")
                print(f"{rows:,} facts, heap in at_us order; {CLUSTER}/{NAMESPACE}/{SERVICE}")
                yield conn, pods
        finally:
            drop_db(url)
        print(f"after the runs: {machine(base)}")


if __name__ == "__main__":
    main()
