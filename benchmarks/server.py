"""The PostgreSQL a benchmark measures against: default durability unless told otherwise.

`server(url)` yields `url` when given (a server of the user's), else starts a throwaway
PostgreSQL 15 with the server's DEFAULT durability (tests/pgserver.py `durable=True`: fsync,
synchronous_commit and full_page_writes on) and stops it afterwards. `machine()` is the line
every benchmark prints beside its figures: the server's durability as read back from it, the CPU
count and the load average (the machine may be shared).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from gapwatch.recorder.store import make_engine, upgrade
from tests import pgserver


@contextmanager
def server(url: str | None) -> Iterator[str]:
    """A PostgreSQL server URL: `url`, or a durable throwaway one for the duration."""
    if url:
        yield url
        return
    root = Path(tempfile.mkdtemp(prefix="gapwatch-bench-pg-", dir="/tmp"))
    started = pgserver.start(root, durable=True)
    try:
        yield started
    finally:
        pgserver.stop(root)
        shutil.rmtree(root, ignore_errors=True)  # its data directory: hundreds of MB a run


def dsn(url: str) -> str:
    """A libpq DSN for an SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_db(url: str, *, migrate: bool = True) -> str:
    """A new database on the server of `url` (migrated to head unless told not to)."""
    name = "bench_" + uuid.uuid4().hex[:10]
    admin = make_url(url).set(database="postgres")
    with psycopg.connect(dsn(admin.render_as_string(hide_password=False)), autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    new = make_url(url).set(database=name).render_as_string(hide_password=False)
    if migrate:
        engine = make_engine(new)
        upgrade(engine)
        engine.dispose()
    return new


def drop_db(url: str) -> None:
    """Drop a database fresh_db made (its rows would fill the disk over repeated runs)."""
    name = make_url(url).database
    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(dsn(admin), autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def machine(url: str) -> str:
    """Durability, CPUs and load average, for the line beside the figures."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    durability = pgserver.describe_durability(pgserver.durability(url))
    return f"{durability}; {os.cpu_count()} CPUs, load average {load} (shared machine)"


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]
