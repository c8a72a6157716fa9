"""CSV as gapwatch writes it: RFC 4180's quoting with Unix line ends.

`csv.writer(out, lineterminator="\\n")` quotes a field that holds a delimiter, a quote or a
character of its line terminator: a bare CR (`a\\rb`, a value anyone who pushes or imports may
store) went out unquoted, and a standard CSV reader (Python's, pandas', a spreadsheet's) read it
back as two rows (session 31 found it, session 32 fixed it). `row_writer` quotes as the
`"\\r\\n"` terminator would (any field with a CR or a LF) and ends each row with `"\\n"` as before:
CPython's writer hands each row to `write` whole, its terminator last.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any, Protocol

#: what the writer ends a row with; each row is written with `\n` instead
_CRLF = "\r\n"


class RowWriter(Protocol):
    """`csv.writer`'s methods gapwatch calls."""

    def writerow(self, row: Iterable[Any], /) -> Any: ...

    def writerows(self, rows: Iterable[Iterable[Any]], /) -> None: ...


class _UnixLines:
    """A file-like object for csv.writer: each row's CRLF written as LF."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write(self, row: str) -> int:
        if not row.endswith(_CRLF):  # not one whole row: a writer that splits them
            raise ValueError("csv.writer wrote part of a row")
        return self._out.write(row[: -len(_CRLF)] + "\n")


def row_writer(out: IO[str]) -> RowWriter:
    """A csv.writer on `out` whose every field with a CR or LF is quoted, rows ending in LF."""
    return csv.writer(_UnixLines(out), lineterminator=_CRLF)
