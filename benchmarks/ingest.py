"""Ingest benchmark: every ingest path beside the raw COPY of the same rows, same run, same server.

    python benchmarks/ingest.py [--n 100000] [--repeat 3] [--pg URL] [--naive-n N] [--ndjson FILE]
        [--facts-costs] [--facts-indexes] [--facts-grouped [--group-batch N]] [--derive-process]
        [--paired-facts] [--only PREFIX]

Without --pg (or GAPWATCH_BENCH_PG) it starts a throwaway PostgreSQL 15 with the server's DEFAULT
durability (benchmarks/server.py); the line above the figures says which durability the server
had. Every run writes into a fresh, migrated database. The rows are --n observations of the
realistic mix (benchmarks/observations.py: probes, target health, EndpointSlices, Pods, Nodes;
~1 KB on average; --ndjson: the first --n observations of a file instead, e.g. an export of the
`large` preset), the same rows for every path:

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

With --facts-costs, where the facts' time goes on the server, five more paths (measurement only:
DDL on the fresh database before the clock starts; labels marked `*` and the line under the table
say what they did not keep durable):

- raw COPY events + facts: the baseline's COPY, committed, then a binary COPY of the same
  events' facts (derived before the clock starts), committed: the physical limit with facts;
- the same with `facts` and `projector_positions` UNLOGGED (no WAL: emptied by a crash);
- the same with facts logged but without `ix_facts_cluster_namespace_name_at_us` (what that
  index's upkeep costs; replay's reads need it);
- writer, events + facts, and import, with facts UNLOGGED.

With --facts-indexes, the cheaper indexes that could serve replay's reads of facts by Service and
time (ingest round 7), each in place of `ix_facts_cluster_namespace_name_at_us` (DDL before the
clock starts; measurement only, the store keeps its index):

- raw COPY events + facts with a two-bigint btree (hash of cluster, namespace and name computed
  by the server: an expression index, `hashtextextended`; at_us), the same plus a partial
  (cluster, namespace) index of the facts that name no Service (what a Service's whole-history
  read needs beside it), a BRIN on at_us, and no secondary index;
- writer, events + facts, with the hashed-key index, hashed + partial, and no secondary index.

With --facts-grouped, facts stored one row per key (cluster, namespace, name, fact kind) per
batch of events, the batch's values in arrays (benchmarks/factgroups.py; ingest round 8; a
scratch table `facts_grouped` made by DDL before the clock, `facts` left empty; nothing reads it):

- raw COPY events + grouped /N (N: --group-batch, repeatable, default 1000 events): the
  baseline's COPY, then the grouped rows by psycopg's binary `write_row`; the same pre-encoded
  (the COPY data made once before the clock and written as bytes: the server's share without
  psycopg dumping the lists element by element), and pre-encoded with the arrays compressed by
  lz4 instead of pglz; beside them raw COPY events + facts, also pre-encoded;
- raw COPY events + hybrid /1000, lz4, pre-encoded: a key's facts of a batch grouped only when
  it has more than one there, its only fact a plain `facts` row (most pods and nodes);
- writer, events + grouped /1000 (text: COPY text built by hand; text with lz4; binary:
  psycopg's `write_row`) and writer, events + hybrid /1000, lz4: the writer with a derive hook
  of factgroups (the same derive, then grouping), beside the writer with today's facts; and
  writer, events + derive, nothing written: the facts derived and dropped, the bound of any
  layout of them while derive stays in Python.

With --derive-process (ingest session 27, measured, not adopted), the writer with facts and the
import with the projector in a child process (benchmarks/deriveproc.py), each beside today's
path (the projector in a thread).

With --paired-facts (ingest session 33), the writer with facts and the import with each batch's
facts derived row by row as its events are copied and streamed at once into a second COPY on a
second connection, one thread (benchmarks/pairedfacts.py), each beside today's path.

--only PREFIX (repeatable) keeps the paths whose label starts with one of them (the baseline
always runs): a run of the index variants alone is shorter.

The paths run round-robin, --repeat rounds, every other round in reverse order, so drifting load
hits all of them alike (and each --facts-costs path runs next to the path it varies). Prints each
path's median rows/s, its ratio to the raw COPY's median, the median of its per-round ratios
(each round against that round's COPY: steadier on a shared machine), the facts stored, the
median WAL the server wrote during the path (the whole server's: other work on a --pg server
counts too) and the runs. Then the CPU this process (every thread: parsing, deriving, writing)
spent per row on each path, medians: on a loaded machine wall-clock ratios follow the load, this
does not; the derive process's CPU is counted with it. Beside it, the server's CPU per row when
the benchmark started the server itself (not with --pg): every process of the server from /proc
(the postmaster, its live children, and the children it reaped: a closed connection's backend),
read before the path and 0.3 s after it, autovacuum included.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg.copy import FileWriter
from sqlalchemy.orm import Session, registry

from benchmarks import factgroups
from benchmarks.deriveproc import ProcessWriter
from benchmarks.observations import generate
from benchmarks.pairedfacts import PairedHybridWriter, PairedWriter
from benchmarks.server import drop_db, dsn, fresh_db, machine, server, server_cpu, server_pid
from gapwatch.recorder import importer
from gapwatch.recorder.importer import import_files
from gapwatch.recorder.ndjson import dumps, read_observations
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.readahead import read_ahead as _read_ahead
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import EVENT_COLUMNS, copy_types, events
from gapwatch.recorder.writer import EventWriter, _JsonTextDumper, no_derive, prepare
from gapwatch.replay.facts import FACT_COLUMNS, derive_all, write_facts
from gapwatch.replay.tables import facts as facts_table

BASELINE = "raw COPY (write_row), the baseline"
T = TypeVar("T")

#: A path: the rows it stores and the run that stores them into a database and times it.
Run = tuple[int, Callable[[str], float]]

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
    return raw_copy_facts(url, rows, [])


def raw_copy_facts(
    url: str,
    rows: list[tuple[Any, ...]],
    facts: list[Any],
    *,
    grouped: bool = False,
    encoded: dict[str, bytes] | None = None,
    then: bytes | None = None,
) -> float:
    """The baseline's COPY, then (when given) the same events' facts by binary COPY, each
    committed: the projector's pattern without its Python, the physical limit with facts.
    `grouped`: `facts` are benchmarks/factgroups.py rows, copied into its scratch table.
    `encoded`: the facts' COPY data is encoded once before the clock (kept in this dict for the
    next rounds) and written as bytes: the server's share without the client's dumping.
    `then`: binary COPY data of `facts_grouped` rows, written after the facts, same commit
    (--facts-grouped's hybrid layout)."""
    table, columns, types = (
        ("facts_grouped", factgroups.COLUMNS, factgroups.COPY_TYPES)
        if grouped
        else (facts_table.name, FACT_COLUMNS, copy_types(facts_table, FACT_COLUMNS))
    )
    with psycopg.connect(dsn(url)) as conn, conn.cursor() as cur:
        cur.adapters.register_dumper(None, _JsonTextDumper)
        if encoded is not None and "data" not in encoded:
            encoded["data"] = encode(cur, types, facts)
        start = time.perf_counter()
        _copy(cur, events.name, EVENT_COLUMNS, copy_types(events, EVENT_COLUMNS), rows)
        conn.commit()
        if facts:
            _copy(cur, table, columns, types, facts, encoded["data"] if encoded else None)
        if then is not None:
            _copy(cur, "facts_grouped", factgroups.COLUMNS, (), (), then)
        if facts or then is not None:
            conn.commit()
        return time.perf_counter() - start


def _copy(
    cur: psycopg.Cursor[Any],
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Any,
    data: bytes | None = None,
) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        if data is not None:
            copy.write(data)
            return
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def encode(cur: psycopg.Cursor[Any], types: Any, rows: Any, *, binary: bool = True) -> bytes:
    """COPY data of `rows` (binary, or text), as `write_row` would send it (nothing goes to the
    server)."""
    out = io.BytesIO()
    with psycopg.Copy(cur, binary=binary, writer=FileWriter(out)) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
    return out.getvalue()


#: --facts-costs: DDL on a fresh database before a path's clock starts (measurement only).
UNLOGGED = ("ALTER TABLE facts SET UNLOGGED", "ALTER TABLE projector_positions SET UNLOGGED")
NO_FACTS_INDEX = ("DROP INDEX ix_facts_cluster_namespace_name_at_us",)
#: --facts-indexes: the Service's key hashed to one bigint by the server, beside at_us.
HASHED_KEY = (
    "hashtextextended(cluster || chr(31) || coalesce(namespace, '') || chr(31) "
    "|| coalesce(name, ''), 0)"
)
HASHED_INDEX = (*NO_FACTS_INDEX, f"CREATE INDEX ix_facts_hashed ON facts (({HASHED_KEY}), at_us)")
#: ... and what replay's whole-history read of a Service needs beside it: its namespace's and
#: its cluster's facts that name no Service (pods, workloads, nodes, access lines): a partial index.
HASHED_PARTIAL = (
    *HASHED_INDEX,
    "CREATE INDEX ix_facts_namespace_wide ON facts (cluster, namespace) WHERE fact IN ("
    "'pod', 'workload', 'apireq', 'relist', 'node', 'access', 'member', 'sync', 'tgconf')",
)
BRIN_INDEX = (*NO_FACTS_INDEX, "CREATE INDEX ix_facts_at_us_brin ON facts USING brin (at_us)")


def altered(url: str, statements: tuple[str, ...]) -> str:
    with psycopg.connect(dsn(url)) as conn:
        for statement in statements:
            conn.execute(statement)
    return url


def writer(
    url: str,
    observations: list[Observation],
    batch: int,
    *,
    facts: bool = True,
    derive: Any = write_facts,
    kind: type[EventWriter] = EventWriter,
) -> float:
    engine = make_engine(url)
    write = kind(engine, derive=derive if facts else no_derive)
    start = time.perf_counter()
    result = write.write_all(iter(observations), batch_size=batch)
    elapsed = time.perf_counter() - start
    engine.dispose()
    if result.inserted != len(observations):
        raise SystemExit(f"expected {len(observations)} rows stored, got {result.inserted}")
    return elapsed


def import_file(
    url: str,
    path: str,
    n: int,
    batch: int,
    kind: type[EventWriter] = EventWriter,
    *,
    read_ahead: bool = True,
) -> float:
    """`gapwatch import events`' library call; `kind` the writer it builds, `read_ahead` False:
    the lines parsed in the writer's thread (measurement only)."""
    engine = make_engine(url)
    start = time.perf_counter()
    importer.EventWriter = kind  # type: ignore[attr-defined]
    if not read_ahead:
        importer.read_ahead = _in_this_thread  # type: ignore[attr-defined]
    try:
        report = import_files(engine, [path], derive=write_facts, batch_size=batch)
    finally:
        importer.EventWriter = EventWriter  # type: ignore[attr-defined]
        importer.read_ahead = _read_ahead  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    engine.dispose()
    if report.written.inserted != n or report.error_count:
        raise SystemExit(f"import stored {report.written.inserted} of {n} rows")
    return elapsed


def _in_this_thread(items: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """recorder.readahead.read_ahead without its thread: the items as they come."""
    yield from items


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


def wal_position(url: str) -> str:
    with psycopg.connect(dsn(url)) as conn:
        return str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]


def wal_since(url: str, lsn: str) -> int:
    """WAL bytes the server wrote since `lsn` (all of the server's: alone on it, one path's)."""
    with psycopg.connect(dsn(url)) as conn:
        query = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)"
        return int(conn.execute(query, (lsn,)).fetchone()[0])  # type: ignore[index]


def facts_stored(url: str) -> tuple[int, int]:
    """Rows of `facts` (and of --facts-grouped's `facts_grouped`, when there is one) and their
    bytes on disk (heap, TOAST and indexes)."""
    query = (
        "SELECT (SELECT count(*) FROM facts), pg_total_relation_size('facts'), "
        "to_regclass('facts_grouped') IS NOT NULL"
    )
    grouped = "SELECT count(*), pg_total_relation_size('facts_grouped') FROM facts_grouped"
    with psycopg.connect(dsn(url)) as conn:
        rows, size, has_grouped = conn.execute(query).fetchone()  # type: ignore[misc]
        if has_grouped:
            more, more_size = conn.execute(grouped).fetchone()  # type: ignore[misc]
            rows, size = rows + more, size + more_size
        return int(rows), int(size)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="observations per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--naive-n", type=int, help="rows for the naive path (default --n)")
    parser.add_argument("--pg", default=os.environ.get("GAPWATCH_BENCH_PG"))
    parser.add_argument(
        "--ndjson", help="the first --n observations of this NDJSON file instead of the mix"
    )
    parser.add_argument(
        "--facts-costs",
        action="store_true",
        help="add the facts' server-side paths (facts UNLOGGED, without their secondary index)",
    )
    parser.add_argument(
        "--facts-indexes",
        action="store_true",
        help="add paths with cheaper indexes in place of the facts' secondary index",
    )
    parser.add_argument(
        "--facts-grouped",
        action="store_true",
        help="add the raw COPY of events + facts grouped one row per key per batch (round 8)",
    )
    parser.add_argument(
        "--group-batch",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="--facts-grouped: events per batch (repeatable; default 1000)",
    )
    parser.add_argument(
        "--derive-process",
        action="store_true",
        help="add the writer and import with the projector in a child process (session 27)",
    )
    parser.add_argument(
        "--paired-facts",
        action="store_true",
        help="add the writer and import with events and facts in two COPYs at once (session 33)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PREFIX",
        help="run only the paths whose label starts with PREFIX (repeatable; baseline kept)",
    )
    parser.add_argument("--default-gc", action="store_true", help="keep CPython's GC thresholds")
    args = parser.parse_args()
    if not args.default_gc:
        tune_gc()
    if args.ndjson:  # the first --n observations of a file (an export, a simulation)
        read = (obs for _raw, obs in read_observations(args.ndjson))
        observations = [obs for obs in islice(read, args.n) if isinstance(obs, Observation)]
    else:
        observations = list(generate(args.n, seed=7))
    n = len(observations)
    naive_n = args.naive_n if args.naive_n is not None else n
    rows = [prepare(obs)[1] for obs in observations]
    workdir = Path(tempfile.mkdtemp(prefix="gapwatch-bench-ingest-"))
    ndjson = workdir / "observations.ndjson"
    with ndjson.open("w") as out:
        for obs in observations:
            out.write(dumps(obs) + "\n")

    paths: dict[str, Run] = {
        BASELINE: (n, lambda url: raw_copy(url, rows)),
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
    if args.facts_costs:
        paths = beside(paths, facts_cost_paths(args, observations, rows, str(ndjson)))
    if args.facts_indexes:
        paths = beside(paths, facts_index_paths(args, observations, rows))
    if args.facts_grouped:
        paths = beside(paths, facts_grouped_paths(args, observations, rows))
    if args.derive_process:
        paths = beside(paths, derive_process_paths(args, observations, str(ndjson)))
    if args.paired_facts:
        paths = beside(paths, paired_facts_paths(args, observations, str(ndjson)))
        if args.facts_grouped:
            paths = beside(paths, paired_hybrid_paths(args, observations))
    if args.only:
        paths = {
            label: run
            for label, run in paths.items()
            if label == BASELINE or any(label.startswith(prefix) for prefix in args.only)
        }
    times: dict[str, list[float]] = {label: [] for label in paths}
    cpu: dict[str, list[float]] = {label: [] for label in paths}
    server_cpus: dict[str, list[float]] = {label: [] for label in paths}
    facts: dict[str, tuple[int, int]] = {}
    wal: dict[str, list[int]] = {label: [] for label in paths}
    with server(args.pg) as base:
        print(machine(base))
        print(f"{n:,} observations, {ndjson.stat().st_size / n:,.0f} bytes per NDJSON line")
        postmaster = server_pid(base) if not args.pg else None
        for round_ in range(args.repeat):
            order = list(paths.items())
            if round_ % 2:  # every other round backwards: drift hits neighbours alike
                order.reverse()
            for label, (_count, run) in order:
                url = fresh_db(base)
                try:
                    before, lsn = client_cpu(), wal_position(url)
                    served = server_cpu(postmaster) if postmaster else 0.0
                    times[label].append(run(url))
                    cpu[label].append(client_cpu() - before)
                    if postmaster:
                        time.sleep(0.3)  # the closed connections' backends reaped
                        server_cpus[label].append(server_cpu(postmaster) - served)
                    wal[label].append(wal_since(url, lsn))
                    facts[label] = facts_stored(url)
                finally:
                    drop_db(url)
        print(f"after the runs: {machine(base)}")
    ndjson.unlink()
    workdir.rmdir()

    copies = times[BASELINE]
    base_rate = n / statistics.median(copies)
    print(
        f"\n{'path':<52}{'rows/s':>10}{'vs COPY':>9}{'per round':>11}  facts  facts MB  WAL MB"
        "  runs (s)"
    )
    for label, (count, _run) in paths.items():
        rate = count / statistics.median(times[label])
        # each round's ratio to that round's COPY: steadier than medians when the load drifts
        rounds = statistics.median(
            (count / t) / (n / c) for t, c in zip(times[label], copies, strict=True)
        )
        runs = ", ".join(f"{t:.2f}" for t in times[label])
        print(
            f"{label:<52}{rate:>10,.0f}{rate / base_rate:>8.2f}x{rounds:>10.2f}x "
            f"{facts[label][0]:>8,}{facts[label][1] / 1e6:>10.1f}"
            f"{statistics.median(wal[label]) / 1e6:>8.1f}  {runs}"
        )
    if args.facts_costs:
        print(
            "* facts and projector_positions UNLOGGED: not WAL-logged, NOT durable (a crash "
            "empties them; not on replicas). Measurement only: the store keeps them logged."
        )
    print_cpu(paths, cpu, server_cpus)


def facts_cost_paths(
    args: argparse.Namespace,
    observations: list[Observation],
    rows: list[tuple[Any, ...]],
    ndjson: str,
) -> list[tuple[str, str, Run]]:
    """--facts-costs: where the facts' time goes on the server, as (the path it runs after,
    label, path). A fresh database's events get ids 1..n, so the facts derived here are the
    ones the raw COPY's rows would get."""
    n = len(observations)
    derived = derive_all(enumerate(observations, start=1))
    baseline, write, imp = (
        "raw COPY (write_row), the baseline",
        "writer, events + facts (projector)",
        "import events, end to end from NDJSON",
    )
    return [
        (baseline, "raw COPY events + facts", (n, lambda url: raw_copy_facts(url, rows, derived))),
        (
            baseline,
            "raw COPY events + facts UNLOGGED *",
            (n, lambda url: raw_copy_facts(altered(url, UNLOGGED), rows, derived)),
        ),
        (
            baseline,
            "raw COPY events + facts, no secondary index",
            (n, lambda url: raw_copy_facts(altered(url, NO_FACTS_INDEX), rows, derived)),
        ),
        (
            write,
            "writer, events + facts UNLOGGED *",
            (n, lambda url: writer(altered(url, UNLOGGED), observations, args.batch, facts=True)),
        ),
        (
            imp,
            "import events, facts UNLOGGED *",
            (n, lambda url: import_file(altered(url, UNLOGGED), ndjson, n, args.batch)),
        ),
    ]


def facts_index_paths(
    args: argparse.Namespace, observations: list[Observation], rows: list[tuple[Any, ...]]
) -> list[tuple[str, str, Run]]:
    """--facts-indexes: the raw COPY of events + facts and the writer with facts, each with a
    cheaper index (or none) in place of the facts' secondary index, beside the path it varies."""
    n = len(observations)
    derived = derive_all(enumerate(observations, start=1))
    write = "writer, events + facts (projector)"

    def copy_with(ddl: tuple[str, ...]) -> Run:
        return (n, lambda url: raw_copy_facts(altered(url, ddl), rows, derived))

    def write_with(ddl: tuple[str, ...]) -> Run:
        return (n, lambda url: writer(altered(url, ddl), observations, args.batch, facts=True))

    extra = [
        (BASELINE, "raw COPY events + facts", (n, lambda url: raw_copy_facts(url, rows, derived))),
        (BASELINE, "raw COPY events + facts, hashed key index", copy_with(HASHED_INDEX)),
        (BASELINE, "raw COPY events + facts, hashed + partial", copy_with(HASHED_PARTIAL)),
        (BASELINE, "raw COPY events + facts, BRIN at_us", copy_with(BRIN_INDEX)),
        (BASELINE, "raw COPY events + facts, no secondary index", copy_with(NO_FACTS_INDEX)),
        (write, "writer, events + facts, hashed key index", write_with(HASHED_INDEX)),
        (write, "writer, events + facts, hashed + partial", write_with(HASHED_PARTIAL)),
        (write, "writer, events + facts, no secondary index", write_with(NO_FACTS_INDEX)),
    ]
    if args.facts_costs:  # the first and the fifth are --facts-costs paths already
        del extra[4], extra[0]
    return extra


def facts_grouped_paths(
    args: argparse.Namespace, observations: list[Observation], rows: list[tuple[Any, ...]]
) -> list[tuple[str, str, Run]]:
    """--facts-grouped: the raw COPY of the events and their facts grouped one row per key per
    batch of events (benchmarks/factgroups.py, into its scratch table with its key index; the
    table `facts` stays empty), beside the raw COPY of the events with today's facts."""
    n = len(observations)
    derived = derive_all(enumerate(observations, start=1))
    extra: list[tuple[str, str, Run]] = []
    if not (args.facts_costs or args.facts_indexes):
        copy = (n, lambda url: raw_copy_facts(url, rows, derived))
        extra.append((BASELINE, "raw COPY events + facts", copy))
    encoded: dict[str, bytes] = {}
    extra.append(
        (
            BASELINE,
            "raw COPY events + facts, pre-encoded",
            (n, lambda url: raw_copy_facts(url, rows, derived, encoded=encoded)),
        )
    )
    for size in args.group_batch or [1000]:
        grouped = factgroups.group(derived, size)
        print(f"grouped per {size:,} events: {len(derived):,} facts -> {len(grouped):,} rows")

        def run(
            url: str,
            grouped: list[Any] = grouped,
            pre: dict[str, bytes] | None = None,
            ddl: tuple[str, ...] = factgroups.DDL,
        ) -> float:
            url = altered(url, ddl)
            return raw_copy_facts(url, rows, grouped, grouped=True, encoded=pre)

        label = f"raw COPY events + grouped /{size}"
        extra.append((BASELINE, label, (n, run)))
        pre: dict[str, bytes] = {}
        extra.append((BASELINE, f"{label}, pre-encoded", (n, partial(run, pre=pre))))
        lz4 = partial(run, pre=pre, ddl=factgroups.LZ4)
        extra.append((BASELINE, f"{label}, lz4, pre-encoded", (n, lz4)))
    singles: list[Any] = []
    hybrid = factgroups.group(derived, 1000, singles)
    print(f"hybrid: {len(hybrid):,} grouped rows holding {len(derived) - len(singles):,} facts, "
          f"{len(singles):,} single facts")  # fmt: skip
    encoded_singles: dict[str, bytes] = {}
    hybrid_data = factgroups.BinaryCopy().rows(hybrid)

    def run_hybrid(url: str) -> float:
        url = altered(url, factgroups.LZ4)
        return raw_copy_facts(url, rows, singles, encoded=encoded_singles, then=hybrid_data)

    extra.append((BASELINE, "raw COPY events + hybrid /1000, lz4, pre-encoded", (n, run_hybrid)))

    def write_with(derive: Any, ddl: tuple[str, ...] = factgroups.DDL) -> Run:
        def run(url: str) -> float:
            return writer(altered(url, ddl), observations, args.batch, derive=derive)

        return (n, run)

    write, label = "writer, events + facts (projector)", "writer, events + grouped /1000"
    text, binary = factgroups.write_grouped_text, factgroups.write_grouped_binary
    extra += [
        (write, f"{label}, text", write_with(text)),
        (write, f"{label}, text, lz4", write_with(text, factgroups.LZ4)),
        (write, f"{label}, binary", write_with(binary)),
        (
            write,
            "writer, events + hybrid /1000, lz4",
            write_with(factgroups.write_hybrid, factgroups.LZ4),
        ),
        (write, "writer, events + derive, nothing written", write_with(factgroups.derive_only)),
    ]
    return extra


def _writer_and_import(
    args: argparse.Namespace,
    observations: list[Observation],
    ndjson: str,
    kind: type[EventWriter],
    what: str,
) -> list[tuple[str, str, Run]]:
    """The writer with facts and the import with writer `kind`, each beside today's."""
    n = len(observations)
    return [
        (
            "writer, events + facts (projector)",
            f"writer, events + facts, {what}",
            (n, lambda url: writer(url, observations, args.batch, kind=kind)),
        ),
        (
            "import events, end to end from NDJSON",
            f"import events, {what}",
            (n, lambda url: import_file(url, ndjson, n, args.batch, kind=kind)),
        ),
    ]


def derive_process_paths(
    args: argparse.Namespace, observations: list[Observation], ndjson: str
) -> list[tuple[str, str, Run]]:
    """--derive-process: the writer and the import with the projector in a child process
    (benchmarks/deriveproc.py), each beside today's (a thread)."""
    return _writer_and_import(args, observations, ndjson, ProcessWriter, "derive process")


def paired_facts_paths(
    args: argparse.Namespace, observations: list[Observation], ndjson: str
) -> list[tuple[str, str, Run]]:
    """--paired-facts: the writer and the import with each batch's facts streamed beside its
    events, one thread, two COPYs (benchmarks/pairedfacts.py), each beside today's; and the
    import so with its lines parsed in the same thread (no read-ahead)."""
    n = len(observations)

    def one_thread(url: str) -> float:
        return import_file(url, ndjson, n, args.batch, kind=PairedWriter, read_ahead=False)

    return [
        *_writer_and_import(args, observations, ndjson, PairedWriter, "paired COPYs"),
        (
            "import events, end to end from NDJSON",
            "import events, paired COPYs, one thread",
            (n, one_thread),
        ),
    ]


def paired_hybrid_paths(
    args: argparse.Namespace, observations: list[Observation]
) -> list[tuple[str, str, Run]]:
    """--paired-facts with --facts-grouped: round 8's hybrid layout written by the writer's
    projector (today's overlap) and written paired (benchmarks/pairedfacts.py)."""
    n = len(observations)

    def run(kind: type[EventWriter]) -> Run:
        def write(url: str) -> float:
            url = altered(url, factgroups.LZ4)
            return writer(url, observations, args.batch, derive=factgroups.write_hybrid, kind=kind)

        return (n, write)

    return [
        (
            "writer, events + facts (projector)",
            "writer, events + hybrid /1000, lz4, paired COPYs",
            run(PairedHybridWriter),
        ),
    ]


def beside(paths: dict[str, Run], extra: list[tuple[str, str, Run]]) -> dict[str, Run]:
    """`paths` with each extra path right after the one it names (so they run side by side)."""
    out: dict[str, Run] = {}
    for label, path in paths.items():
        out[label] = path
        out.update({new: run for after, new, run in extra if after == label})
    return out


def client_cpu() -> float:
    """CPU seconds of this process so far, every thread, and of its children that ended (the
    derive process)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def print_cpu(
    paths: dict[str, Run], cpu: dict[str, list[float]], server: dict[str, list[float]]
) -> None:
    """The client's CPU per row on each path (this process and its derive process), and the
    server's (every process of our own server; not printed with --pg), medians of the runs."""
    print(f"\n{'CPU per row (us), median':<52}{'client':>10}{'server':>10}")
    for label, (count, _run) in paths.items():
        served = f"{statistics.median(server[label]) / count * 1e6:>10.1f}" if server[label] else ""
        print(f"{label:<52}{statistics.median(cpu[label]) / count * 1e6:>10.1f}{served}")


if __name__ == "__main__":
    main()
