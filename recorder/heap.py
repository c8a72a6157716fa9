"""The recorder process's C heap (glibc malloc): two arenas, free pages given back.

The recorder runs for months. Its Python objects do not grow (GAPWATCH_DEBUG_MEMORY: 20.8-21.1 MB
traced, 661-665k blocks over 9 minutes of a soak), yet its resident memory grew ~20 MB an hour
over the soak's faults, ~4 without them (benchmarks/README.md). What grew was glibc's heap: every
thread that calls malloc gets an arena of its own (up to 8 per core), and the recorder's worker
threads (asyncio's default executor: the writer's batches, the LB poller, the projector, the
prober's store reads) held seven between them; in a soak without faults most of the anonymous
memory that grew was in those threads' arenas. And glibc gives back only the top of a heap: the
free pages inside (after a relist's pages, a spool filled while the store was away) stay
resident. So:

- `limit_arenas` (at start, before any thread): at most `ARENAS` arenas (mallopt M_ARENA_MAX,
  what MALLOC_ARENA_MAX=2 sets from the environment; a value there wins);
- `trim_heap` (in the run loop): malloc_trim(0) every `TRIM_EVERY_S`, which gives the free
  pages of every arena back to the system (0.24 ms after freeing 30 MB in 3 KB blocks).

The same 15-minute soak with the same faults: +10.7 MB/h instead of +19-21, the last sample
under the highest; the arena limit alone (MALLOC_ARENA_MAX=2, no trim) measured +22-25: the trim
is what helps (the two were measured together; the limit alone, not). Both calls are glibc's;
elsewhere (musl, macOS) they do nothing and say so (False).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

#: glibc's mallopt parameter for the most arenas (malloc.h: M_ARENA_MAX).
M_ARENA_MAX = -8
#: Arenas the recorder allows: the main thread's and one its worker threads share.
ARENAS = 2
#: Seconds between two malloc_trim calls.
TRIM_EVERY_S = 60.0
#: The environment variable glibc reads for the same setting (it wins: an operator's choice).
ARENA_ENV = "MALLOC_ARENA_MAX"


@cache
def _libc() -> Any | None:
    """The C library when it is glibc (it has mallopt and malloc_trim), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(environ: Mapping[str, str] = os.environ, arenas: int = ARENAS) -> bool:
    """At most `arenas` malloc arenas for this process (call before starting threads: an arena
    a thread already holds stays its own). True when set; False without glibc, or when
    MALLOC_ARENA_MAX is in `environ` (glibc has applied that one)."""
    libc = _libc()
    if libc is None or environ.get(ARENA_ENV):
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


def trim() -> bool:
    """Give the free pages of every arena back to the system (malloc_trim(0)); True when some
    were, False when none were or without glibc."""
    libc = _libc()
    return libc is not None and bool(libc.malloc_trim(0))


async def trim_heap(stop: asyncio.Event, every_s: float = TRIM_EVERY_S) -> None:
    """`trim` every `every_s` seconds until `stop` is set."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        if not stop.is_set():
            trim()
