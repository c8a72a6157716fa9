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


def server_pid(url: str) -> int:
    """The postmaster's pid of the server at `url` (read from its data directory: the
    benchmark's own server, on this machine)."""
    with psycopg.connect(dsn(url)) as conn:
        data = str(conn.execute("SHOW data_directory").fetchone()[0])  # type: ignore[index]
    return int((Path(data) / "postmaster.pid").read_text().split()[0])


def server_cpu(pid: int) -> float:
    """CPU seconds the whole server has used so far: the postmaster, its live children (backends,
    WAL writer, checkpointer, autovacuum) and the children it has reaped (a closed connection's
    backend), from /proc. Monotone: a child's time moves from its own line to the postmaster's
    reaped-children counters when it exits and is reaped."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(p: int | str) -> list[str]:
        stat = Path(f"/proc/{p}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state is [0]

    own = fields(pid)
    total = sum(int(own[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = fields(entry.name)
        except (OSError, ValueError):
            continue  # gone meanwhile: its time is in the postmaster's counters once reaped
        if int(child[1]) == pid:  # ppid
            total += int(child[11]) + int(child[12])
    return total / tick
