"""What one PostgreSQL console query may bring into the process: rows of a bounded width, a
FETCH of a bounded count.

The console counts its byte limit as rows arrive, but a FETCH brings its rows whole first: libpq
holds the answer, psycopg then makes Python values of it, so one row of 250 MB took the
dashboard to 764 MB, and what one FETCH brings is bounded only by what the server will hold of
it (the login's `temp_file_limit`: 500 rows of 1 MB and one row of 600 MB were refused by the
server at 256MB, one of 250 MB was not; session 39). So, where the query has a byte limit:

- the query is wrapped so that the server measures each row's text (`octet_length(q::text)`,
  as the row goes out) and sends, for a row wider than `row_cap` (the byte limit, at most
  `ROW_BYTES`), its columns as NULL and a flag: the console stops there (`truncated`), the wide
  row never reaches the process;
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
#: The wrapper's last column: true for a row wider than the cap (its other columns NULL).
WIDE = "gapwatch_wide"


def row_cap(byte_limit: int) -> int:
    """The widest row fetched under `byte_limit` (0: no limit, nothing wrapped)."""
    return 0 if byte_limit <= 0 else min(ROW_BYTES, byte_limit)


def gated(sql: str, count: int, cap: int) -> str:
    """`sql` (a query of `count` columns) wrapped so that a row wider than `cap` bytes comes as
    NULLs and the flag `WIDE` (see the module docstring)."""
    names = [f"c{i}" for i in range(count)]
    cells = ", ".join(f"CASE WHEN s.{WIDE} THEN NULL ELSE s.{n} END" for n in names)
    return (
        f"SELECT {cells}, s.{WIDE} FROM ("
        f"SELECT q.*, octet_length(q::text) > {int(cap)} AS {WIDE} "
        f"FROM (SELECT * FROM (\n{sql}\n) AS q0 OFFSET 0) AS q({', '.join(names)}) "
        "OFFSET 0) AS s"
    )


class GatedFetch:
    """A gated cursor's fetch: each FETCH sized to the bytes left, the flag column taken off,
    and nothing after the first wide row (`wide` is then set)."""

    def __init__(self, fetch: Callable[[int], list[Any]], cap: int, byte_limit: int) -> None:
        self._fetch = fetch
        self.cap = cap
        self._byte_limit = byte_limit
        self.wide = False

    def count(self, size: int, chunk: int) -> int:
        """Rows to ask for when `size` bytes were taken: what the rest holds at `cap` a row."""
        return max(1, min(chunk, (self._byte_limit - size) // self.cap))

    def __call__(self, want: int) -> list[Any]:
        if self.wide:
            return []
        rows = []
        for row in self._fetch(want):
            if row[-1]:
                self.wide = True
                break
            rows.append(row[:-1])
        return rows
