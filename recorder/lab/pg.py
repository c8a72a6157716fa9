"""The lab's PostgreSQL: the one given with --db, or a throwaway server of its own (started once
per command; each lab run then gets a fresh database on it, so runs never mix)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gapwatch.recorder.lab.procs import LabError


@dataclass(frozen=True, slots=True)
class LabStore:
    #: the URL runs record into when given (--db), else None
    given: str | None = None
    #: the throwaway server's URL (its `postgres` database) and data root
    server: str | None = None
    root: Path | None = None

    def database(self) -> str:
        """The URL one run records into: the given one, or a new database on our server."""
        if self.given is not None:
            return self.given
        assert self.server is not None
        import psycopg
        from sqlalchemy.engine import make_url

        name = "lab_" + uuid.uuid4().hex[:12]
        admin = make_url(self.server).set(drivername="postgresql")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return make_url(self.server).set(database=name).render_as_string(hide_password=False)


@contextmanager
def lab_store(db: str | None, *, keep: bool, progress: Callable[[str], None]) -> Iterator[LabStore]:
    """`LabStore(given=db)`, or a throwaway server (stopped at the end unless `keep`)."""
    if db is not None:
        yield LabStore(given=db)
        return
    from gapwatch.recorder.lab.pgserver import pg_bin, start, stop

    if pg_bin() is None:
        raise LabError("no --db given and no PostgreSQL server binaries to start one (pg_ctl)")
    root = Path(tempfile.mkdtemp(prefix="gapwatch-lab-pg-", dir="/tmp"))
    server = start(root)
    progress(f"lab: throwaway PostgreSQL at {server} (data in {root})")
    try:
        yield LabStore(server=server, root=root)
    finally:
        if not keep:
            stop(root)
            import shutil

            shutil.rmtree(root, ignore_errors=True)
