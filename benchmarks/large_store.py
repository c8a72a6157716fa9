"""The `large` demo store for the read-side benchmarks, built once and kept on disk.

`gapwatch demo --large` as a new user gets it (the seed and aws-nlb clusters plus the simulator's
`large` preset: 300 nodes, 24 hours, about 1.1M events), simulated into SQLite under a cache
directory keyed by preset and seed (a build goes to a temporary name first, so an interrupted
one is never reused). The PostgreSQL copy is imported from it the way a user moves a store
(`export events` then `import events`: recorder.exporter into recorder.writer, facts derived),
into a database named after the same key, and kept on that server for the next run.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from gapwatch.dashboard.demo import DEFAULT_SCENARIOS, LARGE_SCENARIO, build_demo_store
from gapwatch.dashboard.demo import sqlite_url as sqlite_url
from gapwatch.recorder.exporter import iter_events
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.tables import events
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api
from gapwatch.replay.facts import write_facts

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "gapwatch-bench"


def key(preset: str, seed: int) -> str:
    return f"demo_{preset}_seed{seed}".replace("-", "_")


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def sqlite_store(cache: Path, *, seed: int = 1, say: bool = True) -> Path:
    """The SQLite demo store with the `large` preset (built on the first call)."""
    path = cache / f"{key(LARGE_SCENARIO[0], seed)}.db"
    if path.exists():
        # a store cached by an older checkout: migrate it (cheap on SQLite: new tables only)
        engine = make_engine(sqlite_url(path))
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        return path
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".building")
    started = time.perf_counter()
    build_demo_store(
        partial,
        scenarios=(*DEFAULT_SCENARIOS, LARGE_SCENARIO),
        seed=seed,
        on_step=(lambda m: print(f"  {m}", flush=True)) if say else None,
    )
    partial.rename(path)
    if say:
        print(f"built {path} in {time.perf_counter() - started:.0f} s")
    return path


def postgres_store(server_url: str, source: Path, *, seed: int = 1) -> str:
    """A database on the server holding the same events (imported from `source`, replayed);
    reused when a previous run finished it (its projections are up to date)."""
    name = key(LARGE_SCENARIO[0], seed)
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    admin = make_engine(server_url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    engine = make_engine(url)
    try:
        upgrade(engine)
        src = make_engine(sqlite_url(source))
        try:
            if count(engine) != count(src):
                started = time.perf_counter()
                with engine.begin() as conn:
                    conn.execute(text("TRUNCATE events, facts RESTART IDENTITY"))
                writer = EventWriter(engine, derive=write_facts, notify=False)
                writer.write_all(obs for _id, obs in iter_events(src))
                print(f"imported {count(engine)} events into {name} in "
                      f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        finally:
            src.dispose()
        api.refresh(engine)
    finally:
        engine.dispose()
    return url
