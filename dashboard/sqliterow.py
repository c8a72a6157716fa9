"""Bound the size of one row a SQLite console query returns.

SQLite bounds each string or blob a query makes (SQLITE_LIMIT_LENGTH) and the columns of a row
(SQLITE_LIMIT_COLUMN), not their product: `SELECT printf('%.*c', 16000000, 'x'), ...` 64 times
built a row of 1 GiB in a few VM steps, between two looks of the progress handler, and Python's
copy of it took the process to 2,994 MB peak and 23 s past a 5 s deadline (session 31's review:
the dashboard's pod has 2 GiB). PostgreSQL's console is bounded there: a FETCH is gathered in a
tuplestore before it is sent, under `work_mem` and the login's `temp_file_limit`.

So before it runs the query the console counts the columns of its rows (`EXPLAIN` of the same
text: the `ResultRow` opcodes, each naming its column count; nothing is evaluated) and gives
each value at most `ROW_BYTES / columns`, never more than `VALUE_BYTES`: a row of 1 to 4
columns may still hold 16 MiB values, one of 64 columns 1 MiB each.
"""

from __future__ import annotations

import sqlite3

#: Longest string or blob a SQLite console query may build (SQLITE_LIMIT_LENGTH).
VALUE_BYTES = 16 * 1024 * 1024
#: Most columns a SQLite console row may have (SQLITE_LIMIT_COLUMN; the widest relation has 24).
COLUMNS = 64
#: Largest row (the sum of its values' limits): what the process holds of it twice at most,
#: SQLite's copy and Python's.
ROW_BYTES = 64 * 1024 * 1024


def result_columns(conn: sqlite3.Connection, sql: str) -> int | None:
    """How many columns the rows of `sql` have, read from its program without running it;
    None when `EXPLAIN` of it fails (the text is itself an EXPLAIN, or wrong: running it then
    says why)."""
    try:
        program = conn.execute("EXPLAIN " + sql).fetchall()
    except sqlite3.Error:
        return None
    counts = [int(op[3]) for op in program if op[1] == "ResultRow"]
    return max(counts, default=0)


def value_limit(columns: int | None) -> int:
    """The longest value a query whose rows have `columns` columns may build: the row's share,
    the widest row's (COLUMNS) when the count is unknown."""
    share = ROW_BYTES // max(1, columns if columns is not None else COLUMNS)
    return min(VALUE_BYTES, share)
