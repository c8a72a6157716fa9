"""SQLite's `printf` (and `format`) for the console, without `%c`'s endless precision.

The console's deadline is a progress handler SQLite calls between steps of its VM, never
inside one function call. SQLite 3.40's printf writes `%.Nc` one character at a time for all
N, even once the value is past SQLITE_LIMIT_LENGTH and the characters go nowhere:
`SELECT printf('%.*c', 2000000000, 'x')` is 8 s of CPU in one call, four in a row 34 s,
past a 5 s timeout (session 33; other conversions stop at the limit at once). So the console's
connection gets its own `printf` and `format` (application-defined functions take precedence
over built-in ones of the same name): a `%c` whose precision is longer than a value may be is
refused before anything is written, and every other call is SQLite's own printf, run on a
private in-memory connection under the same length limit.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

#: One conversion: flags, width (`*`: from the arguments), precision, length, type.
_SPEC = re.compile(r"%([-+ #0!,]*)(\*|\d*)(?:\.(\*|\d*))?(l{0,2})(.)", re.DOTALL)


def c_precisions(fmt: str, args: tuple[Any, ...]) -> list[int]:
    """The precision of each `%c` of `fmt`, `*` read from `args` as SQLite reads them."""
    found: list[int] = []
    taken = 0

    def take() -> int:
        nonlocal taken
        value = args[taken] if taken < len(args) else 0
        taken += 1
        try:
            return abs(int(value))
        except (TypeError, ValueError):
            return 0

    for flags_, width, precision, _length, kind in _SPEC.findall(fmt):
        if kind == "%" and not (flags_ or width or precision):
            continue
        if width == "*":
            take()
        wanted = take() if precision == "*" else int(precision or 0)
        taken += 1  # the value the conversion writes
        if kind == "c":
            found.append(wanted)
    return found


class Printf:
    """`printf(FORMAT, ...)` for a console connection whose values are at most `limit` bytes;
    `refused` says why the last refusal was made (the console's error names it)."""

    def __init__(self, limit: int) -> None:
        self.refused: str | None = None
        self._private = sqlite3.connect(":memory:")
        self.limit = 0
        self.set_limit(limit)

    def set_limit(self, limit: int) -> None:
        """Values of at most `limit` bytes (the console's SQLITE_LIMIT_LENGTH)."""
        self.limit = limit
        self._private.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)

    def __call__(self, *args: Any) -> Any:
        if not args:
            return None
        fmt = args[0]
        if isinstance(fmt, str):
            longest = max(c_precisions(fmt, args[1:]), default=0)
            if longest > self.limit:
                self.refused = (
                    f"printf: a %c repeated {longest} times is longer than the {self.limit} "
                    "bytes a value may have"
                )
                raise ValueError(self.refused)
        marks = ", ".join("?" * len(args))
        return self._private.execute(f"SELECT printf({marks})", args).fetchone()[0]

    def install(self, conn: sqlite3.Connection) -> None:
        for name in ("printf", "format"):
            conn.create_function(name, -1, self, deterministic=True)

    def close(self) -> None:
        self._private.close()
