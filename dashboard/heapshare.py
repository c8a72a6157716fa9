"""A page's own SQLite read that a console query starved: said, and retried once.

The console caps the process's SQLite heap (dashboard/sqlitemem.py, `cap_heap`: 512 MiB), and
SQLite has no per-connection cap, so the cap binds every session's reads: a page whose read
falls in the moment a console query (another viewer's, or this viewer's in another tab) holds
the heap at the cap fails with SQLite's "out of memory", Python's MemoryError, and the page
showed a traceback (session 31 left it).

Decided (session 32): not a process of its own for the console (a query's rows would cross a
pipe, and the cap still bounds the two processes' sum only if both are capped), but the page
retried: the console query that holds the heap is itself refused at the cap or stopped by its
256 MiB limit and gives the memory back at once, so the page waits until the heap has room
again (`wait_for_room`, at most `WAIT_S`) and runs once more; if it fails again it says why in
one line (`REFUSED`), never a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gapwatch.dashboard.sqlitemem import hard_heap_limit, sqlite_heap

#: How long a page waits for the heap to have room before its one retry.
WAIT_S = 5.0
#: How often it looks meanwhile.
LOOK_EVERY_S = 0.1
REFUSED = (
    "This page's read of the store was refused memory: the dashboard's SQLite heap is capped "
    "(512 MiB for every session's SQLite reads at once, dashboard/sqlitemem.py) and a SQL "
    "console query held it. The page was retried once; reload it when the query has ended."
)


def heap_cap() -> int | None:
    """The process's SQLite hard heap limit in force (bytes), None where none is set or it
    cannot be read."""
    hard = hard_heap_limit()
    current = hard(-1) if hard is not None else 0
    return current if current > 0 else None


def starved(exc: BaseException) -> bool:
    """Whether `exc` is a SQLite read refused at the process's heap cap."""
    return isinstance(exc, MemoryError) and heap_cap() is not None


def wait_for_room(
    *,
    used: Callable[[], int] | None = None,
    cap: Callable[[], int | None] = heap_cap,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Wait until the SQLite heap is below half its cap (the query that held it gave it back),
    at most WAIT_S; whether it is."""
    read = used or sqlite_heap()
    deadline = clock() + WAIT_S
    while True:
        limit = cap()
        if limit is None or read is None or read() < limit // 2:
            return True
        if clock() >= deadline:
            return False
        sleep(LOOK_EVERY_S)
