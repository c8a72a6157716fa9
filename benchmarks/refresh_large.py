"""Incremental refresh on the `large` demo store: its own next events, Pods and Nodes included.

    benchmarks/refresh_large.py [--backend sqlite|postgres|both] [--pg URL] [--repeat 3]
                                [--profile N] [--batch-only N [--keep DIR] [--no-check]
                                [--round-trips]]

The store (benchmarks/large_store.py builds and caches it: 1.1M events, one gateway Service on
300 nodes, a simulated day) is read, never written. A work store gets its facts up to a cut
(the first `--events` window after 1,000,000 that holds Pod and Node facts); then, in one run:

- full rebuild of the work store's projections (what a refresh is compared with), which also
  seeds the refresh checkpoint (replay.checkpoint), as a long-running process keeps it;
- `--repeat` rounds: the store's own next `--events` events' facts are inserted (as the facts
  projector writes them: the write is not timed) and `projections.refresh` continues from the
  checkpoint, timed;
- one round as `gapwatch replay` runs it after an earlier run saved its fold state
  (replay.checkpoint_file: load the file, refresh, save it), timed;
- one round of the same without a checkpoint (a one-shot command's refresh before), timed;
- a second rebuild, timed, whose rows must equal the refreshed ones (checked).

`--profile N` runs each refresh from the checkpoint under cProfile and prints its N costliest
calls (cumulative; the profiler slows it about 2-3x: read where the time goes, not the total).

`--batch-only N` times the first batch (the one with a Node and Pods) alone, N times: the work
store and the checkpoint a rebuild leaves are made once (kept under `--keep DIR` for the next
run of the same code: a main checkout and a branch each keep their own), the batch's facts
inserted, and each round restores the store (a file copy; on PostgreSQL a database made from
the saved one as its template) and unpickles the checkpoint, then refreshes, timed: wall and
process CPU (a first round, untimed, warms the statement cache of the one engine they share,
as the rebuild does in a long-running process). The rows of the last refresh are compared with
a rebuild (`--no-check`: not). Each refresh's wall time is split by the thread's schedstat:
on a CPU, waiting for one (the machine's load), and off CPU otherwise (waiting on the server:
round trips, its work, the commit's flush); `--round-trips` (PostgreSQL) counts the times it
waited for the server and the statements it sent, from libpq's protocol trace.

PostgreSQL: a throwaway server with its default durability unless `--pg` names one. The work
store (a SQLite file or a database) is removed at the end. Prints medians, the load average.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pickle
import pstats
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from benchmarks.large_store import DEFAULT_CACHE, key
from benchmarks.server import drop_db, dsn, fresh_db, machine, server
from gapwatch.dashboard.demo import LARGE_SCENARIO
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.replay import checkpoint_file, projections
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.tables import replay_lags, replay_rollouts, replay_segments, replay_windows
from tests import pgtrace

_COLS = ", ".join(FACT_COLUMNS)
TABLES = (replay_windows, replay_rollouts, replay_lags, replay_segments)


def pick_cut(src: sqlite3.Connection, events: int, after: int = 1_000_000) -> int:
    """The first event id past `after`, on an `events` boundary, whose next `events` events
    hold Pod and Node facts."""
    row = src.execute(
        "SELECT min(event_id / ?) FROM (SELECT event_id FROM facts WHERE event_id > ? "
        "AND fact = 'node') n WHERE EXISTS (SELECT 1 FROM facts p WHERE p.fact = 'pod' "
        "AND p.event_id / ? = n.event_id / ?)",
        (events, after, events, events),
    ).fetchone()
    if row[0] is None:
        sys.exit(f"no window of {events} events past {after} holds Pod and Node facts")
    return int(row[0]) * events


def mix(src: sqlite3.Connection, lo: int, hi: int) -> str:
    rows = src.execute(
        "SELECT fact, count(DISTINCT event_id) FROM facts WHERE event_id > ? AND event_id <= ? "
        "GROUP BY fact ORDER BY 2 DESC",
        (lo, hi),
    ).fetchall()
    return ", ".join(f"{n} {fact}" for fact, n in rows)


def _rows(src: sqlite3.Connection, lo: int, hi: int) -> Iterator[tuple[object, ...]]:
    yield from src.execute(
        f"SELECT {_COLS} FROM facts WHERE event_id > ? AND event_id <= ? ORDER BY event_id, seq",
        (lo, hi),
    )


def copy_facts(engine: Engine, source: Path, src: sqlite3.Connection, lo: int, hi: int) -> None:
    """Facts of the events (lo, hi] from the store into the work store."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute("ATTACH DATABASE ? AS src", (f"file:{source}?mode=ro",))
            raw.execute(
                f"INSERT INTO facts ({_COLS}) SELECT {_COLS} FROM src.facts "
                "WHERE event_id > ? AND event_id <= ?",
                (lo, hi),
            )
        with engine.begin() as conn:
            conn.connection.driver_connection.execute("DETACH DATABASE src")  # type: ignore[union-attr]
        return
    with psycopg.connect(dsn(str(engine.url.render_as_string(hide_password=False)))) as pg:
        with pg.cursor() as cur, cur.copy(f"COPY facts ({_COLS}) FROM STDIN") as copy:
            for row in _rows(src, lo, hi):
                copy.write_row(row)
        pg.execute("ANALYZE facts")


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every projection row but its surrogate id, sorted."""
    out = {}
    with engine.connect() as conn:
        for table in TABLES:
            cols = ", ".join(c.name for c in table.columns if c.name != "id")
            query = text(f"SELECT {cols} FROM {table.name} ORDER BY {cols}")
            out[table.name] = [tuple(r) for r in conn.execute(query)]
    return out


@contextmanager
def work_store(backend: str, pg: str | None) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gapwatch-refresh-", dir="/tmp") as tmp:
            yield f"sqlite:///{tmp}/work.db"
        return
    with server(pg) as running:
        url = fresh_db(running)
        try:
            print(f"[postgres] {machine(url)}")
            yield url
        finally:
            drop_db(url)


def run(backend: str, source: Path, args: argparse.Namespace) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    cut = pick_cut(src, args.events)
    with work_store(backend, args.pg) as url:
        engine = make_engine(url)
        upgrade(engine)  # the SQLite file is new (fresh_db migrated the database)
        started = time.perf_counter()
        copy_facts(engine, source, src, 0, cut)
        print(f"[{backend}] work store: facts of events 1..{cut} in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        checkpoint = Checkpoint()
        started = time.perf_counter()
        projections.rebuild(engine, checkpoint=checkpoint)
        rebuilds = [time.perf_counter() - started]
        refreshes: list[float] = []
        cpu: list[float] = []
        at = cut
        for _ in range(args.repeat):
            copy_facts(engine, source, src, at, at + args.events)
            profiler = cProfile.Profile() if args.profile else None
            sched = _sched()
            started, started_cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            done = projections.refresh(engine, checkpoint=checkpoint)
            refreshes.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            on_cpu, waited = (b - a for a, b in zip(sched, _sched(), strict=True))
            if profiler is not None:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
            print(f"[{backend}] refresh of events {at + 1}..{at + args.events} ({done} with "
                  f"facts: {mix(src, at, at + args.events)}): {refreshes[-1] * 1000:.0f} ms "
                  f"({cpu[-1] * 1000:.0f} ms CPU, {waited * 1000:.0f} ms waiting for a CPU, "
                  f"{(refreshes[-1] - on_cpu - waited) * 1000:.0f} ms off CPU otherwise), "
                  f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
            at += args.events
        # a one-shot command (`gapwatch replay`) after the last one saved its fold state:
        # load it, refresh, save it again (replay.checkpoint_file), all timed
        checkpoint_file.save(engine, checkpoint)
        checkpoint_file._kept.clear()
        copy_facts(engine, source, src, at, at + args.events)
        started = time.perf_counter()
        checkpoint_file.refresh(engine, persist=True)
        saved = time.perf_counter() - started
        checkpoint_file.forget(engine)
        at += args.events
        copy_facts(engine, source, src, at, at + args.events)
        started = time.perf_counter()
        projections.refresh(engine)
        one_shot = time.perf_counter() - started
        at += args.events
        refreshed = snapshot(engine)
        started = time.perf_counter()
        # the work store holds facts and no events: to replay.kept_rows every row lies before
        # its first held event, as after a retention of everything; the check recomputes them
        projections.rebuild(engine, forget_dropped=True)
        rebuilds.append(time.perf_counter() - started)
        same = snapshot(engine) == refreshed
        engine.dispose()
    print(f"[{backend}] full rebuild: {[round(x, 1) for x in rebuilds]} s; refresh from the "
          f"checkpoint: median {statistics.median(refreshes) * 1000:.0f} ms "
          f"{[round(x * 1000) for x in refreshes]} (CPU {[round(x * 1000) for x in cpu]}); "
          f"one-shot from the saved checkpoint "
          f"(load, refresh, save): {saved:.1f} s; without a checkpoint (one-shot): "
          f"{one_shot:.1f} s; refreshed rows == rebuilt rows: {same}; "
          f"load {os.getloadavg()}")  # fmt: skip
    if not same:
        sys.exit(f"[{backend}] the refreshed projections differ from a rebuild")


def _restore(url: str, pristine: str) -> None:
    """Make the work store `url` a copy of `pristine` (a SQLite path, or a database name)."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        for stale in (f"{path}-wal", f"{path}-shm"):
            Path(stale).unlink(missing_ok=True)
        shutil.copyfile(pristine, path)
        return
    name = make_url(url).database
    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(dsn(admin), autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name} TEMPLATE {pristine}")


#: what a refresh writes (`--warm` puts them back as they were)
_WRITTEN = ("replay_windows", "replay_rollouts", "replay_lags", "replay_segments", "replay_state")


def _keep_pristine(engine: Engine) -> None:
    """`--warm`: a copy of the tables a refresh writes, in the work database (schema
    `pristine`), for `_undo`."""
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS pristine CASCADE"))
        conn.execute(text("CREATE SCHEMA pristine"))
        for table in _WRITTEN:
            conn.execute(text(f"CREATE TABLE pristine.{table} AS TABLE public.{table}"))


def _undo(engine: Engine) -> None:
    """`--warm`: put the rows a refresh changed back as `_keep_pristine` copied them (whole
    rows compared, as multisets), on the connection the refresh used: no new server process
    with cold catalog and plan caches, as a long-running process keeps its pool."""
    with engine.begin() as conn:
        for table in _WRITTEN:
            key = "key" if table == "replay_state" else "id"
            conn.execute(text(
                f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM (SELECT * FROM {table} "
                f"EXCEPT ALL SELECT * FROM pristine.{table}) changed)"
            ))  # fmt: skip
            conn.execute(text(
                f"INSERT INTO {table} SELECT * FROM pristine.{table} EXCEPT ALL "
                f"SELECT * FROM {table}"
            ))  # fmt: skip


def _prepare(
    backend: str, source: Path, args: argparse.Namespace, keep: Path, url: str
) -> dict[str, Any]:
    """The work store at the cut, rebuilt with a checkpoint (pickled), the first batch's facts
    inserted; saved as the pristine copy `_restore` starts from."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    cut = pick_cut(src, args.events)
    engine = make_engine(url)
    upgrade(engine)
    copy_facts(engine, source, src, 0, cut)
    checkpoint = Checkpoint()
    started = time.perf_counter()
    projections.rebuild(engine, checkpoint=checkpoint)
    rebuilt = time.perf_counter() - started
    copy_facts(engine, source, src, cut, cut + args.events)
    engine.dispose()
    with (keep / "checkpoint.pickle").open("wb") as f:
        pickle.dump(checkpoint, f, protocol=pickle.HIGHEST_PROTOCOL)
    if backend == "sqlite":
        pristine = str(keep / "pristine.db")
        shutil.copyfile(url.removeprefix("sqlite:///"), pristine)
    else:
        pristine = f"{make_url(url).database}_pristine"
        admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(dsn(admin), autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {pristine}")
            c.execute(f"CREATE DATABASE {pristine} TEMPLATE {make_url(url).database}")
    meta = {"url": url, "pristine": pristine, "cut": cut,
            "mix": mix(src, cut, cut + args.events)}  # fmt: skip
    (keep / "meta.json").write_text(json.dumps(meta))
    print(f"[{backend}] prepared under {keep}: rebuild {rebuilt:.1f} s, batch {meta['mix']}")
    return meta


def batch_only(backend: str, source: Path, args: argparse.Namespace) -> None:
    """`--batch-only N`: the first batch refreshed N times from the same store and checkpoint."""
    keep = args.keep or Path(tempfile.mkdtemp(prefix="gapwatch-batch-", dir="/tmp"))
    keep.mkdir(parents=True, exist_ok=True)
    meta_file = keep / "meta.json"
    if meta_file.exists():
        meta = json.loads(meta_file.read_text())
    elif backend == "postgres" and not args.pg:
        sys.exit("--batch-only on PostgreSQL keeps its databases: name the server with --pg")
    elif backend == "sqlite":
        meta = _prepare(backend, source, args, keep, f"sqlite:///{keep}/work.db")
    else:
        meta = _prepare(backend, source, args, keep, fresh_db(args.pg, migrate=False))
    url = meta["url"]
    cpu: list[float] = []
    wall: list[float] = []
    runnable: list[float] = []  # waiting for a CPU (the machine's load)
    off: list[float] = []  # neither: waiting on the server (round trips, its work, the commit)
    # one engine for every round, as a long-running process has: its statement cache warm
    # after the first round (untimed), as the rebuild leaves it there
    engine = make_engine(url)
    warm = args.warm and backend == "postgres"
    for i in range(args.batch_only + 1):
        if warm and i > 0:
            _undo(engine)  # the same server connection, its caches warm
        else:
            engine.dispose()
            _restore(url, meta["pristine"])
            if warm:
                _keep_pristine(engine)
        gc.disable()
        with (keep / "checkpoint.pickle").open("rb") as f:
            checkpoint = pickle.load(f)
        gc.enable()
        gc.collect()  # as rebuild leaves it: the state's objects counted as long-lived
        load = os.getloadavg()[0]
        if i == 0:
            projections.refresh(engine, checkpoint=checkpoint)
            continue
        profiler = cProfile.Profile() if args.profile else None
        sched = _sched()
        started, started_cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        with _round_trips(engine, args.round_trips) as trips:
            projections.refresh(engine, checkpoint=checkpoint)
        if profiler is not None:
            profiler.disable()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
        on_cpu, waited = (b - a for a, b in zip(sched, _sched(), strict=True))
        runnable.append(waited)
        off.append(wall[-1] - on_cpu - waited)
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
        print(f"[{backend}] batch ({meta['mix']}): {wall[-1] * 1000:.0f} ms wall, "
              f"{cpu[-1] * 1000:.0f} ms CPU, {runnable[-1] * 1000:.1f} ms waiting for a CPU, "
              f"{off[-1] * 1000:.1f} ms off CPU otherwise{trips()}, load {load:.1f}",
              flush=True)  # fmt: skip
        if len(cpu) < args.batch_only:
            del checkpoint
    same = None
    if not args.no_check:
        refreshed = snapshot(engine)
        projections.rebuild(engine, forget_dropped=True)  # facts, no events: as `run`'s
        same = snapshot(engine) == refreshed
    engine.dispose()
    print(f"[{backend}] batch alone x{len(cpu)}: CPU median "
          f"{statistics.median(cpu) * 1000:.0f} ms {[round(x * 1000) for x in cpu]}, wall median "
          f"{statistics.median(wall) * 1000:.0f} ms {[round(x * 1000) for x in wall]}, "
          f"waiting for a CPU median {statistics.median(runnable) * 1000:.1f} ms, off CPU "
          f"otherwise median {statistics.median(off) * 1000:.1f} ms "
          f"{[round(x * 1000, 1) for x in off]}; "
          f"refreshed rows == rebuilt rows: {same}; load {os.getloadavg()}")  # fmt: skip
    if same is False:
        sys.exit(f"[{backend}] the refreshed projections differ from a rebuild")


def _sched() -> tuple[float, float]:
    """This thread's time on a CPU and waiting for one (runnable), in seconds (Linux's
    schedstat; zeros elsewhere): the rest of a wall time is spent waiting on something else,
    here the server."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            on_cpu, waited, _slices = (int(x) for x in f.read().split())
    except OSError:
        return 0.0, 0.0
    return on_cpu / 1e9, waited / 1e9


@contextmanager
def _round_trips(engine: Engine, count: bool) -> Iterator[Callable[[], str]]:
    """With `count` (PostgreSQL): the times the refresh waited for the server and its statements,
    from libpq's protocol trace of every connection it checked out (tests/pgtrace.py); told as
    ", N round trips (M statements)"."""
    if not count or engine.dialect.name != "postgresql":
        yield lambda: ""
        return
    with pgtrace.engine_trace(engine) as lines:
        yield (
            lambda: f", {pgtrace.waits(lines)} round trips ({pgtrace.statements(lines)} statements)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg", help="a PostgreSQL server URL (default: a throwaway one)")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N",
        help="cProfile each refresh from the checkpoint and print its N costliest calls",
    )  # fmt: skip
    parser.add_argument(
        "--batch-only", type=int, default=0, metavar="N",
        help="refresh the first batch alone N times from one store and checkpoint",
    )  # fmt: skip
    parser.add_argument("--keep", type=Path, help="--batch-only: where its store is kept")
    parser.add_argument("--no-check", action="store_true", help="--batch-only: no rebuild")
    parser.add_argument(
        "--warm", action="store_true",
        help="--batch-only on PostgreSQL: put the rows back between refreshes on the same "
        "connection (a warm server process) instead of a new database from the template",
    )  # fmt: skip
    parser.add_argument(
        "--round-trips", action="store_true",
        help="--batch-only on PostgreSQL: count each refresh's round trips (libpq's trace)",
    )  # fmt: skip
    args = parser.parse_args()
    source = args.cache / f"{key(LARGE_SCENARIO[0], 1)}.db"
    if not source.exists():
        sys.exit(f"{source}: build it first (benchmarks/large_store.py, benchmarks/dashboard.py)")
    with tempfile.TemporaryDirectory(prefix="gapwatch-checkpoints-", dir="/tmp") as saved:
        os.environ["GAPWATCH_CHECKPOINT_DIR"] = saved  # PostgreSQL's file: removed at the end
        for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
            if args.batch_only:
                batch_only(backend, source, args)
            else:
                run(backend, source, args)


if __name__ == "__main__":
    main()
