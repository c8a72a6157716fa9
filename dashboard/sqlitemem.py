"""Bound what a SQLite console query may hold for its sorts and temporary tables.

SQLite spills a large sort or temporary b-tree to files in the machine's temp directory, and
nothing in the library bounds their size: a console query with `ORDER BY random()` over a
recursive CTE wrote 1.4 GB there in 10 s, limited only by the query's deadline. PostgreSQL has
`temp_file_limit` for this; SQLite has no per-connection equivalent (its heap limit is the
whole process's, and would fail the dashboard's own reads).

So the console's connection keeps its temporary data in memory (`PRAGMA temp_store=MEMORY`:
nothing touches the disk) and the progress handler watches SQLite's own heap
(`sqlite3_memory_used()`, read through ctypes from the library Python's sqlite3 module loaded):
past `limit_bytes` above what it was when the query began, the query is interrupted. The heap
is the process's SQLite heap, so a dashboard serving other sessions' SQLite reads at the same
moment may stop a query a little early, never late by more than what one check interval
allocates. The process's resident size would not do: memory the process freed earlier stays
resident (the allocator keeps it), and a sort grows into it without the size moving.

The handler looks at the heap every 64,000 VM steps, and a query can allocate a great deal in
fewer: 64 rows of 16 MiB values put in a materialized CTE, or 64 such values computed for one
row, took a few hundred steps and 1.1 GB / 2.6 GB (session 31's review). So the console also
caps the process's SQLite heap as a whole (`cap_heap`: `sqlite3_hard_heap_limit64`,
HARD_HEAP_BYTES): an allocation past it fails, and the query with it, with SQLite's "out of
memory" (Python's MemoryError), whatever the interval. It is the process's, so it binds the
dashboard's own SQLite reads too, which hold a few MiB (page caches, sorts that spill to files).

Where the symbol cannot be read (a Python whose sqlite3 module links SQLite statically and
hides it, or a SQLite built without memory statistics: `memory_used` reads 0 with a connection
open), the handler falls back to the resident size, with that weakness: `heap_reader` says which.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
import time
from collections.abc import Callable

#: Memory a SQLite console query may add to the process for sorts and temporary tables
#: (PostgreSQL's console: work_mem 16 MB in memory, the login's temp_file_limit on disk).
SQLITE_MEMORY_LIMIT = 256 * 1024 * 1024
#: The whole process's SQLite heap at most (every connection), set by the first console query:
#: a backstop between two looks of the progress handler, twice the per-query limit.
HARD_HEAP_BYTES = 2 * SQLITE_MEMORY_LIMIT
#: Progress-handler calls between two looks at the memory (each call is 2,000 SQLite VM steps;
#: reading /proc/self/statm, the fallback, costs about as much as 2,000 steps).
CHECK_EVERY = 32

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """This process's resident memory now (Linux), else its peak so far (macOS, BSD)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def sqlite_heap() -> Callable[[], int] | None:
    """`sqlite3_memory_used` of the SQLite library Python's sqlite3 module uses (the bytes its
    allocator holds now, every connection of the process), None where it cannot be read."""
    try:
        import _sqlite3

        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (ImportError, OSError, AttributeError):
        return None
    used.restype = ctypes.c_int64
    used.argtypes = []
    return lambda: int(used())


_HEAP = sqlite_heap()


def hard_heap_limit() -> Callable[[int], int] | None:
    """`sqlite3_hard_heap_limit64` of the library Python's sqlite3 module uses (a negative
    argument reads the limit, 0 lifts it), None where the library does not give it."""
    try:
        import _sqlite3

        hard = ctypes.CDLL(_sqlite3.__file__).sqlite3_hard_heap_limit64
    except (ImportError, OSError, AttributeError):
        return None
    hard.restype = ctypes.c_int64
    hard.argtypes = [ctypes.c_int64]
    return lambda n: int(hard(n))


def cap_heap(limit_bytes: int = HARD_HEAP_BYTES) -> int | None:
    """Cap the process's SQLite heap at `limit_bytes` unless a lower cap is set; the cap in force
    (None where the library does not give the function)."""
    hard = hard_heap_limit()
    if hard is None:
        return None
    current = hard(-1)  # a negative argument reads it
    if current <= 0 or current > limit_bytes:
        hard(limit_bytes)
        return limit_bytes
    return current


def heap_reader() -> tuple[str, Callable[[], int]]:
    """What the limit measures ("sqlite heap", else "resident size") and the function that reads
    it. Called with a connection open: a SQLite without memory statistics reads 0 then."""
    if _HEAP is not None and _HEAP() > 0:
        return "sqlite heap", _HEAP
    return "resident size", resident_bytes


class Stopper:
    """A SQLite progress handler: stop at the deadline, or past the memory limit."""

    def __init__(self, deadline: float, limit_bytes: int | None = None) -> None:
        self.deadline = deadline
        self.limit_bytes = SQLITE_MEMORY_LIMIT if limit_bytes is None else limit_bytes
        self.measures, self._read = heap_reader()
        self.start_bytes = self._read()
        self.over_memory = False
        self._calls = 0

    def __call__(self) -> int:
        if time.monotonic() > self.deadline:
            return 1
        self._calls += 1
        if self._calls % CHECK_EVERY:
            return 0
        if self._read() - self.start_bytes > self.limit_bytes:
            self.over_memory = True
            return 1
        return 0
