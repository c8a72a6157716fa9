"""The SQLite console's `printf` cannot spend CPU past its deadline on `%c`'s precision: real
SQLite files through `run_query`, as the dashboard and `gapwatch sql` run them.

Session 33: `SELECT length(printf('%.*c', 2000000000, 'x'))` answered NULL after 8 s of CPU in
one call of SQLite 3.40's printf, which the 5 s deadline (a progress handler between VM steps)
cannot interrupt; four in one row took 34 s of CPU (140 s on the loaded machine)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gapwatch.dashboard.errors import QueryRejected
from gapwatch.dashboard.sqlconsole import run_query
from gapwatch.dashboard.sqliteprintf import c_precisions


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (name TEXT, n INTEGER)")
        conn.execute("INSERT INTO t VALUES ('node-1', 3), ('it''s', -2)")
    conn.close()
    return f"sqlite:///{path}"


def test_a_c_repeated_past_a_value_is_refused_before_it_is_written(sqlite_file: str) -> None:
    for sql in (
        "SELECT length(printf('%.*c', 200000000, 'x'))",
        "SELECT length(format('%.200000000c', 'x'))",
        "SELECT length(printf('%s %-*.*c', 'a', 3, -200000000, 'x'))",
    ):
        with pytest.raises(QueryRejected) as info:
            run_query(sqlite_file, sql)
        assert "%c repeated 200000000 times" in str(info.value), sql
    assert run_query(sqlite_file, "SELECT 1").rows == [(1,)]  # the next query runs


@pytest.mark.parametrize(
    "call",
    [
        "printf('%5.2f|%c|%.3c|%s|%%|%-*d|%.*c', 3.14159, 'x', 'y', 'z', 4, 7, 3, 'q')",
        "format('%d-%q-%Q-%w', n, name, name, name)",
        "printf('%.*c', n, name)",
        "printf('%!.3g %,d %x %o %e', 1e300, 1234567, 255, 8, 0.5)",
        "printf(name)",
        "printf(NULL, 1)",
        "printf('%s', x'6869')",
    ],
)
def test_every_other_printf_answers_as_sqlites_own(sqlite_file: str, call: str) -> None:
    path = sqlite_file.removeprefix("sqlite:///")
    plain = sqlite3.connect(path)
    try:
        expected = plain.execute(f"SELECT {call} FROM t ORDER BY rowid").fetchall()
    finally:
        plain.close()
    assert run_query(sqlite_file, f"SELECT {call} FROM t ORDER BY rowid").rows == expected


def test_the_precision_is_read_from_the_arguments_as_sqlite_reads_them() -> None:
    assert c_precisions("%c %.5c %%c %*.*c %.*c", ("a", "b", 9, 7, "c", -4, "d")) == [0, 5, 7, 4]
    assert c_precisions("%.*c", ()) == [0]
