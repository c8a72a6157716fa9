"""What the facts cost the server, part by part (ingest session 30).

    python benchmarks/facts_server.py [--n 50000] [--rounds 3] [--pg URL] [VARIANT ...]

The facts' share of ingest's server CPU, without the client's Python in the way: per round and
variant, a fresh migrated database; the events of --n observations of the benchmark's mix
(benchmarks/observations.py, seed 7) by binary COPY, committed, a CHECKPOINT; then the clock:
their facts (derived before the clock) by binary `COPY facts ... FROM STDIN`, committed. Measured
for that COPY alone: the CPU of its server backend (/proc/PID/stat, so the server must run on
this machine: without --pg it starts a throwaway one with the server's default durability,
benchmarks/server.py), the WAL it wrote (`pg_current_wal_lsn()` before and after), the sizes of
`facts` and its indexes, and the wall time. Every variant is DDL on the fresh database before
the clock (measurement only: none of it is in the schema):

- `as-is`: the schema as migrated (the baseline, in every round);
- `unlogged`: `facts` UNLOGGED (no WAL for it: emptied by a crash);
- `no-secondary`: without `ix_facts_cluster_namespace_name_at_us` (replay's reads need it);
- `no-pk`: without the primary key (event_id, seq, cluster);
- `bare`: neither index, UNLOGGED: the heap alone;
- `dedup-off`: the secondary index with `deduplicate_items = off`;
- `collate-c`, `collate-icu`: the secondary index rebuilt with its text columns
  COLLATE "C", or COLLATE "en-x-icu" (an index with a linguistic collation; a whole database
  whose default is ICU `en-US` cost less: benchmarks/README.md, "Session 30: ingest");
- `sorted`: the facts COPY'd in the secondary index's key order (cluster, namespace, name, at_us).

The variants run round-robin, every other round in reverse order. Prints per variant the
medians per event (backend CPU in us, WAL bytes, wall us) and the median of per-round ratios of
backend CPU to the same round's `as-is`, then the sizes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from benchmarks.ingest import _copy, tune_gc
from benchmarks.observations import generate
from benchmarks.server import drop_db, dsn, fresh_db, machine, server
from gapwatch.recorder.tables import EVENT_COLUMNS, copy_types, events
from gapwatch.recorder.writer import _JsonTextDumper, prepare
from gapwatch.replay.facts import FACT_COLUMNS, Fact, derive_all
from gapwatch.replay.tables import facts as facts_table

BASELINE = "as-is"
_INDEX = "ix_facts_cluster_namespace_name_at_us"
_KEY = ("cluster", "namespace", "name")


def _collated(collation: str) -> tuple[str, ...]:
    columns = ", ".join(f'{c} COLLATE "{collation}"' for c in _KEY)
    return (f"DROP INDEX {_INDEX}", f"CREATE INDEX {_INDEX} ON facts ({columns}, at_us)")


#: variant -> (DDL before the clock, facts in the secondary index's key order)
VARIANTS: dict[str, tuple[tuple[str, ...], bool]] = {
    BASELINE: ((), False),
    "unlogged": (("ALTER TABLE facts SET UNLOGGED",), False),
    "no-secondary": ((f"DROP INDEX {_INDEX}",), False),
    "no-pk": (("ALTER TABLE facts DROP CONSTRAINT pk_facts",), False),
    "bare": (
        (
            "ALTER TABLE facts DROP CONSTRAINT pk_facts",
            f"DROP INDEX {_INDEX}",
            "ALTER TABLE facts SET UNLOGGED",
        ),
        False,
    ),
    "dedup-off": ((f"ALTER INDEX {_INDEX} SET (deduplicate_items = off)",), False),
    "collate-c": (_collated("C"), False),
    "collate-icu": (_collated("en-x-icu"), False),
    "sorted": ((), True),
}


class Sample(NamedTuple):
    cpu_s: float
    wal_bytes: int
    wall_s: float
    heap_bytes: int
    index_bytes: int


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a server backend has used so far, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def key_order(facts: Sequence[Fact]) -> list[Fact]:
    """The facts in the secondary index's key order (NULL first, as the index has them last:
    only locality matters here)."""
    return sorted(facts, key=lambda f: (f.cluster, f.namespace or "", f.name or "", f.at_us))


def measure(url: str, rows: Sequence[Any], facts: Sequence[Fact], ddl: Sequence[str]) -> Sample:
    """One variant once, on a fresh database (module docstring)."""
    db = fresh_db(url)
    try:
        with psycopg.connect(dsn(db)) as conn, conn.cursor() as cur:
            for statement in ddl:
                conn.execute(statement)
            conn.commit()
            cur.adapters.register_dumper(None, _JsonTextDumper)
            _copy(cur, events.name, EVENT_COLUMNS, copy_types(events, EVENT_COLUMNS), rows)
            conn.commit()
            conn.execute("CHECKPOINT")
            lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
            conn.commit()
            pid = conn.info.backend_pid
            cpu, start = backend_cpu(pid), time.perf_counter()
            types = copy_types(facts_table, FACT_COLUMNS)
            _copy(cur, facts_table.name, FACT_COLUMNS, types, facts)
            conn.commit()
            wall, cpu = time.perf_counter() - start, backend_cpu(pid) - cpu
            query = (
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn), "
                "pg_relation_size('facts'), pg_indexes_size('facts')"
            )
            wal, heap, index = conn.execute(query, (lsn,)).fetchone()  # type: ignore[misc]
        return Sample(cpu, int(wal), wall, int(heap), int(index))
    finally:
        drop_db(db)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=50_000, help="observations per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("GAPWATCH_BENCH_PG"))
    parser.add_argument("variants", nargs="*", choices=[[], *VARIANTS], metavar="VARIANT")
    args = parser.parse_args()
    names = [BASELINE, *(v for v in (args.variants or VARIANTS) if v != BASELINE)]
    tune_gc()
    observations = list(generate(args.n, seed=7))
    rows = [prepare(obs)[1] for obs in observations]
    facts = derive_all(enumerate(observations, start=1))
    ordered = key_order(facts)
    n = len(observations)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    with server(args.pg) as url:
        print(machine(url))
        print(f"{n:,} observations, {len(facts):,} facts ({len(facts) / n:.2f} an event)")
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                ddl, in_key_order = VARIANTS[name]
                samples[name].append(measure(url, rows, ordered if in_key_order else facts, ddl))
            print(f"round {r + 1} of {args.rounds} done", file=sys.stderr, flush=True)
        print(f"after the runs: {machine(url)}")
    base = samples[BASELINE]
    print(f"\n{'variant':14s} {'CPU us/event':>13s} {'vs as-is':>9s} {'WAL B/event':>12s} "
          f"{'wall us/event':>14s} {'heap MB':>8s} {'indexes MB':>11s}")  # fmt: skip
    for name in names:
        got = samples[name]
        ratio = statistics.median(s.cpu_s / b.cpu_s for s, b in zip(got, base, strict=True))
        print(
            f"{name:14s} {statistics.median(s.cpu_s for s in got) / n * 1e6:13.1f} "
            f"{ratio:8.2f}x {statistics.median(s.wal_bytes for s in got) / n:12.0f} "
            f"{statistics.median(s.wall_s for s in got) / n * 1e6:14.1f} "
            f"{got[0].heap_bytes / 1e6:8.1f} {got[0].index_bytes / 1e6:11.1f}"
        )
    print("\nper round, CPU us/event: " + "; ".join(
        f"{name} " + ", ".join(f"{s.cpu_s / n * 1e6:.1f}" for s in samples[name])
        for name in names))  # fmt: skip


if __name__ == "__main__":
    main()
