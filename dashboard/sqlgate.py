"""What one PostgreSQL console query may bring into the process: rows of a bounded width, a
FETCH of a bounded count.

The console counts its byte limit as rows arrive, but a FETCH brings its rows whole first: libpq
holds the answer, psycopg then makes Python values of it, so one row of 250 MB took the
dashboard to 764 MB, and what one FETCH brings is bounded only by what the server will hold of
it (the login's `temp_file_limit`: 500 rows of 1 MB and one row of 600 MB were refused by the
server at 256MB, one of 250 MB was not; session 39). So, where the query has a byte limit:

- the query is wrapped so that the server measures each row's text (`octet_length(q::text)`,
  as the row goes out) and sends it as a last column, and, for a row wider than `row_cap` (the
  byte limit, at most `ROW_BYTES`), its other columns as NULL: the console stops there
  (`truncated`) and says which row, how wide, and how to narrow the query (`wide_row`); the
  wide row never reaches the process;
- each FETCH asks for as many rows as the bytes left can hold at `row_cap` each (1 to `CHUNK`),
  so that no FETCH brings more than the limit plus one row.

The user's query stays the one statement DECLARE takes (it is declared alone first, for its
columns, and must be one SELECT, VALUES or TABLE query), and is fenced (`OFFSET 0`) so that the
planner neither folds its rows' expressions into the wrapper's (computing them twice) nor
reorders them. Without a byte limit (`gapwatch sql --max-bytes 0`, an export to a pipe) nothing
is wrapped: the user asked for every byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: The widest row (its text, as the server sends it) fetched: a Kubernetes object, the widest
#: value the store keeps, is at most etcd's default request size (`--max-request-bytes`,
#: 1.5 MiB); 2 MiB holds one with the row's other columns.
ROW_BYTES = 2 * 1024 * 1024
#: The wrapper's last column: the row's width as text, in bytes (its other columns NULL where
#: that is past the cap).
WIDE = "gapwatch_row_bytes"


def row_cap(byte_limit: int) -> int:
    """The widest row fetched under `byte_limit` (0: no limit, nothing wrapped)."""
    return 0 if byte_limit <= 0 else min(ROW_BYTES, byte_limit)


def gated(sql: str, count: int, cap: int) -> str:
    """`sql` (a query of `count` columns) wrapped so that each row comes with its width `WIDE`,
    and a row wider than `cap` bytes as NULLs (see the module docstring)."""
    names = [f"c{i}" for i in range(count)]
    cells = ", ".join(f"CASE WHEN s.{WIDE} > {int(cap)} THEN NULL ELSE s.{n} END" for n in names)
    return (
        f"SELECT {cells}, s.{WIDE} FROM ("
        f"SELECT q.*, octet_length(q::text) AS {WIDE} "
        f"FROM (SELECT * FROM (\n{sql}\n) AS q0 OFFSET 0) AS q({', '.join(names)}) "
        "OFFSET 0) AS s"
    )


class GatedFetch:
    """A gated cursor's fetch: each FETCH sized to the bytes left, the width column taken off,
    and nothing after the first wide row (`wide` is then its width in bytes, else 0)."""

    def __init__(self, fetch: Callable[[int], list[Any]], cap: int, byte_limit: int) -> None:
        self._fetch = fetch
        self.cap = cap
        self._byte_limit = byte_limit
        self.wide = 0

    def count(self, size: int, chunk: int) -> int:
        """Rows to ask for when `size` bytes were taken: what the rest holds at `cap` a row."""
        return max(1, min(chunk, (self._byte_limit - size) // self.cap))

    def __call__(self, want: int) -> list[Any]:
        if self.wide:
            return []
        rows = []
        for row in self._fetch(want):
            if (row[-1] or 0) > self.cap:
                self.wide = int(row[-1])
                break
            rows.append(row[:-1])
        return rows


def wide_row(number: int, width: int, cap: int) -> str:
    """Why a gated query stopped at row `number`, `width` bytes as text, and how to see more."""
    return (
        f"row {number:,} is {width:,} bytes as text, wider than the {cap:,} bytes a console row "
        "may be (the smaller of 2 MiB and the byte limit): the query stopped before it, and "
        "rows after it may exist. Narrow the query to see it: select fewer columns, or cut the "
        "wide ones (`left(column, 1000)`, `octet_length(column)`), or leave that row out; "
        "`gapwatch sql --max-bytes 0` fetches it whole"
    )
