"""Size on disk per million events, with and without TOAST compression of the payload.

    python benchmarks/storage.py [--n 200000] [--pg URL]

Writes --n observations of the realistic mix (benchmarks/observations.py, ~1 KB on average)
through the writer with replay's facts (what import and the recorder do) into a fresh, migrated
(partitioned) database per variant, then reads PostgreSQL's own sizes: the `events` partitions'
heap, TOAST and indexes, `event_keys`, `facts`. Variants of `events.payload`:

- `uncompressed`: `SET STORAGE EXTERNAL` (large values moved out of line, never compressed)
- `pglz`: PostgreSQL's default TOAST compression
- `lz4`: where the server was built with it (`SHOW default_toast_compression` accepts it)

PostgreSQL compresses a value only when its row passes TOAST_TUPLE_THRESHOLD (~2 KB), so small
probe rows are stored as they are under every variant. Sizes do not depend on durability
settings, so any server will do (without --pg or GAPWATCH_BENCH_PG, a throwaway one is started).
Figures are scaled linearly from --n to one million (the tables grow linearly: no dedupe hits).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text

from benchmarks.observations import START, from_pool
from benchmarks.servers import bench_server, drop_db, new_db
from gapwatch.recorder.maintain import maintain
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts

#: Applied to `events` and to each partition: on PostgreSQL 15 SET COMPRESSION on a partitioned
#: table does not reach its existing partitions (measured: they kept lz4), only new ones.
VARIANTS = {
    "uncompressed": "ALTER TABLE {} ALTER COLUMN payload SET STORAGE EXTERNAL",
    "pglz": "ALTER TABLE {} ALTER COLUMN payload SET COMPRESSION pglz",
    "lz4": "ALTER TABLE {} ALTER COLUMN payload SET COMPRESSION lz4",
}
_PARTS = "SELECT inhrelid FROM pg_inherits WHERE inhparent = 'events'::regclass"
SIZES = {
    "events heap": f"SELECT sum(pg_relation_size(inhrelid)) FROM ({_PARTS}) p",
    "events toast": (
        "SELECT sum(coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)) "
        f"FROM pg_class c WHERE c.oid IN ({_PARTS})"
    ),
    "events indexes": f"SELECT sum(pg_indexes_size(inhrelid)) FROM ({_PARTS}) p",
    "event_keys": "SELECT pg_total_relation_size('event_keys')",
    "facts": "SELECT pg_total_relation_size('facts')",
}


def has_lz4(engine: Engine) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'"
            )
        ).scalar()
    return bool(found)


def measure(server: str, variant: str, n: int) -> dict[str, float]:
    url = new_db(server)
    engine = make_engine(url)
    upgrade(engine)
    maintain(engine, now=START, ahead_days=1)
    with engine.begin() as conn:
        names = conn.execute(text(f"SELECT inhrelid::regclass::text FROM ({_PARTS}) p")).scalars()
        for name in ["events", *names]:
            conn.execute(text(VARIANTS[variant].format(name)))
    started = time.perf_counter()
    EventWriter(engine, derive=write_facts).write_all(from_pool(n))
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        out = {k: float(conn.execute(text(q)).scalar() or 0) for k, q in SIZES.items()}
        out["payload text bytes (avg)"] = float(
            conn.execute(text("SELECT avg(octet_length(payload::text)) FROM events")).scalar_one()
        )
        out["compressed rows"] = float(
            conn.execute(
                text("SELECT count(*) FROM events WHERE pg_column_compression(payload) IS NOT NULL")
            ).scalar_one()
        )
    out["seconds"] = elapsed
    engine.dispose()
    drop_db(server, url)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--pg", default=os.environ.get("GAPWATCH_BENCH_PG"))
    args = parser.parse_args()
    with bench_server(args.pg) as server:
        variants = [v for v in VARIANTS if v != "lz4" or has_lz4(make_engine(server))]
        scale = 1_000_000 / args.n
        print(f"{args.n:,} events of the realistic mix, sizes scaled to 1M events, MB (10^6 B)")
        rows = {v: measure(server, v, args.n) for v in variants}
        print("| part | " + " | ".join(variants) + " |")
        print("|---|" + "---|" * len(variants))
        for part in SIZES:
            cells = " | ".join(f"{rows[v][part] * scale / 1e6:,.0f}" for v in variants)
            print(f"| {part} | {cells} |")
        totals = {v: sum(rows[v][p] for p in SIZES) * scale / 1e6 for v in variants}
        print("| **total** | " + " | ".join(f"**{totals[v]:,.0f}**" for v in variants) + " |")
        base = totals["uncompressed"]
        print(
            "| vs uncompressed | " + " | ".join(f"{totals[v] / base:.2f}" for v in variants) + " |"
        )
        avg = rows[variants[0]]["payload text bytes (avg)"]
        print(f"average payload as JSON text: {avg:,.0f} bytes")
        for v in variants:
            share = rows[v]["compressed rows"] / args.n
            print(f"{v}: {share:.0%} of payloads compressed; write {rows[v]['seconds']:.1f} s")


if __name__ == "__main__":
    main()
