"""What a SQLite console query could write or load with, refused each, the store unchanged.

Session 38 ran these against the SQLite console (SQLite 3.40.1): the authorizer refused each,
but `VACUUM` and `VACUUM INTO` came back as a plain QueryError (SQLite's `authorization
denied`) rather than the console's QueryRejected; they are now said as every other refusal is.
After each, the store's bytes are as before and no file was written beside it (but the WAL
index and an empty WAL, which any reader makes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from gapwatch.dashboard.errors import QueryRejected
from gapwatch.dashboard.sqlconsole import run_query

ATTACKS = [
    "ATTACH DATABASE '{dir}/attached.db' AS x",
    "DETACH main",
    "VACUUM INTO '{dir}/copy.db'",
    "VACUUM",
    "REINDEX",
    "ANALYZE",
    "SELECT load_extension('{dir}/lib.so')",
    "SELECT \"LOAD_EXTENSION\"('{dir}/lib.so')",
    "PRAGMA journal_mode=DELETE",
    "PRAGMA user_version=5",
    "PRAGMA writable_schema=ON",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    "PRAGMA optimize",
    "SELECT * FROM pragma_query_only(0)",
    "SELECT * FROM pragma_hard_heap_limit(0)",
    "SELECT * FROM pragma_database_list",
    "CREATE TEMP TABLE t(a)",
    "BEGIN",
    "SAVEPOINT a",
    "SELECT 1; SELECT 2",
]


def _fingerprint(directory: Path) -> dict[str, str]:
    """Every file's bytes, but the WAL index (`-shm`) and an empty WAL, which any reader of a
    WAL store makes beside it (a read-only connection too)."""
    files = {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}
    if not files.get("store.db-wal", b"x"):
        del files["store.db-wal"]
    files.pop("store.db-shm", None)
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


@pytest.mark.parametrize("sql", ATTACKS)
def test_each_is_refused_and_the_store_is_unchanged(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str], sql: str
) -> None:
    url = migrated_sqlite(tmp_path / "store.db")
    before = _fingerprint(tmp_path)
    with pytest.raises(QueryRejected):
        run_query(url, sql.replace("{dir}", str(tmp_path)))
    assert _fingerprint(tmp_path) == before
