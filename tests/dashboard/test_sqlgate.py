"""What one PostgreSQL console query brings into the process is bounded (session 39).

A FETCH brought its rows whole before the byte limit was counted: one row of 250 MB took the
dashboard to 764 MB, and a FETCH of 500 rows was as large as the login's temp_file_limit let
the server hold. Now a row wider than dashboard/sqlgate.py's cap comes as NULLs and a flag (the
query is cut there), and each FETCH asks for what the bytes left hold. On a real PostgreSQL (a
console login with a 64MB temp_file_limit); counted in rows, not timed or weighed.
"""

from __future__ import annotations

import pytest

from gapwatch.dashboard.sqlconsole import open_query, run_query
from gapwatch.dashboard.sqlgate import ROW_BYTES, WIDE, GatedFetch, gated
from gapwatch.dashboard.sqlguard import Limits

pytestmark = pytest.mark.postgres


def test_a_row_wider_than_the_cap_is_not_fetched(console: str) -> None:
    """Two narrow rows, then one of 3 MiB (wider than ROW_BYTES, within the 32 MiB limit),
    then a narrow one: the narrow rows before it come back and the query is cut at the wide
    one (on main all four came, the wide one whole)."""
    width = ROW_BYTES + 2**20
    result = run_query(
        console,
        f"SELECT g, CASE WHEN g = 3 THEN repeat('x', {width}) ELSE 'ok' END AS v "
        "FROM generate_series(1, 4) g ORDER BY g",
    )
    assert result.columns == ["g", "v"]
    assert result.rows == [(1, "ok"), (2, "ok")]
    assert result.truncated


def test_the_cut_names_the_wide_row_its_width_and_the_cap(console: str) -> None:
    """Session 39's console said only "more rows exist" where it stopped at a row too wide to
    fetch; now the reason names the row, its width as the server measured it (the row's text:
    `(3,xxx...)`), the cap, and how to narrow the query, in `run_query`'s result and in
    `gapwatch sql`'s stream. A cut at the row limit and one at the byte limit say so."""
    width = ROW_BYTES + 2**20
    sql = (
        f"SELECT g, CASE WHEN g = 3 THEN repeat('x', {width}) ELSE 'ok' END AS v "
        "FROM generate_series(1, 4) g ORDER BY g"
    )
    result = run_query(console, sql)
    row_text = len("(3,)") + width  # the row as text: (3,xxx...)
    assert result.cut.startswith(f"row 3 is {row_text:,} bytes as text, wider than the ")
    assert f"the {ROW_BYTES:,} bytes a console row may be" in result.cut
    assert "`left(column, 1000)`" in result.cut and "--max-bytes 0" in result.cut
    with open_query(console, sql, Limits(byte_limit=1_000_000)) as stream:
        assert len(list(stream)) == 2
    assert stream.cut.startswith(f"row 3 is {row_text:,} bytes as text, wider than the 1,000,000")
    many = run_query(console, "SELECT g FROM generate_series(1, 20) g", row_limit=5)
    assert many.cut == "the row limit of 5 was reached: more rows exist"
    wide = run_query(
        console, "SELECT repeat('x', 1000) FROM generate_series(1, 20)", byte_limit=5000
    )
    assert len(wide.rows) == 5 and wide.cut.startswith(
        "the byte limit of 5,000 bytes of cell text was reached at row 6: more rows exist"
    )


def test_a_fetch_asks_for_what_the_bytes_left_hold(console: str) -> None:
    """500 rows of 1 MB through a login whose temp_file_limit is 64MB: on main one FETCH asked
    for all 500 and the server refused to hold them (`temporary file size exceeds
    temp_file_limit`); now each FETCH asks for what the 32 MiB left hold at ROW_BYTES a row,
    and the query is cut at the byte limit as rows arrive."""
    result = run_query(console, "SELECT g, repeat('x', 1000000) FROM generate_series(1, 500) g")
    assert result.truncated
    assert [row[0] for row in result.rows] == list(range(1, len(result.rows) + 1))
    assert 30 <= len(result.rows) <= 34  # 32 MiB of 1 MB rows


def test_the_wrapper_keeps_columns_types_and_order(console: str) -> None:
    """Duplicate and unnamed columns, types the table shows (numbers, JSON, NULL), an ORDER BY,
    a LIMIT and a trailing comment pass through the wrapper as they were."""
    sql = (
        "SELECT g AS a, g * 2 AS a, 1.5, '{\"k\": [1]}'::jsonb AS j, NULL::text AS n "
        "FROM generate_series(1, 5) g ORDER BY g DESC LIMIT 3 -- a comment"
    )
    with open_query(console, sql, Limits()) as stream:
        rows = list(stream)
    assert stream.columns == ["a", "a", "?column?", "j", "n"]
    assert rows == [(g, 2 * g, 1.5, '{"k":[1]}', None) for g in (5, 4, 3)]
    assert stream.gate is not None and not stream.truncated


def test_without_a_byte_limit_nothing_is_wrapped(console: str) -> None:
    """`gapwatch sql --max-bytes 0`: the user asked for every byte, the wide row comes."""
    width = ROW_BYTES + 1
    with open_query(console, f"SELECT repeat('x', {width})", Limits(byte_limit=0)) as stream:
        rows = list(stream)
    assert stream.gate is None and len(rows[0][0]) == width


def test_the_gate_stops_at_the_first_wide_row_and_sizes_each_fetch() -> None:
    """The pure part: the width column taken off, nothing after the first row wider than the
    cap (whose width is kept, to be named); the count asked for is what the bytes left hold at
    the cap, 1 at least and the chunk at most."""
    asked: list[int] = []
    batches: list[list[tuple[object, int]]] = [
        [(1, 3), (2, 10), (None, 30), (4, 3)],
        [(5, 3)],
    ]

    def fetch(want: int) -> list[tuple[object, int]]:
        asked.append(want)
        return batches.pop(0) if batches else []

    gate = GatedFetch(fetch, cap=10, byte_limit=100)
    assert gate(gate.count(0, 500)) == [(1,), (2,)]
    assert gate.wide == 30 and gate(5) == []
    assert asked == [10]
    assert gate.count(95, 500) == 1 and gate.count(0, 4) == 4
    assert f"{WIDE} > 10 THEN NULL" in gated("SELECT 1", 1, 10)
