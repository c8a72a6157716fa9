"""The recorder's memory, for a hunt (off unless GAPWATCH_DEBUG_MEMORY is set; docs/lab.md).

With GAPWATCH_DEBUG_MEMORY=DIR, `gapwatch record` starts tracemalloc
(GAPWATCH_DEBUG_MEMORY_FRAMES frames per allocation, 10 unless set; 0: no tracemalloc, the
counters alone) and a daemon thread that, every GAPWATCH_DEBUG_MEMORY_EVERY_S wall seconds (120
unless set), writes to DIR:

- `PID-SEQ.tracemalloc` (when tracing): a tracemalloc snapshot (`tracemalloc.Snapshot.load`;
  `compare` two with `python -m gapwatch.recorder.memtrace A B`);
- `PID-SEQ.malloc.xml`: glibc's `malloc_info` (per arena: its size, its free chunks);
- one JSON line in `PID.jsonl`: the wall time, resident memory (kB), `sys.getallocatedblocks()`,
  tracemalloc's traced bytes, glibc's malloc counters (`mallinfo`) and the count of live objects
  of each type the collector tracks outside the frozen generation (the 40 most numerous).

It costs the process memory and time (tracemalloc's own tables, a snapshot every period): a
measuring aid, never for production.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

ENV = "GAPWATCH_DEBUG_MEMORY"
EVERY_ENV = "GAPWATCH_DEBUG_MEMORY_EVERY_S"
FRAMES_ENV = "GAPWATCH_DEBUG_MEMORY_FRAMES"
#: types listed per line (the most numerous)
TOP_TYPES = 40


def start_from_env(environ: Mapping[str, str]) -> threading.Thread | None:
    """Start tracing and the dumping thread when `environ` names a directory; else nothing."""
    where = environ.get(ENV)
    if not where:
        return None
    every_s = float(environ.get(EVERY_ENV, "120"))
    frames = int(environ.get(FRAMES_ENV, "10"))
    directory = Path(where)
    directory.mkdir(parents=True, exist_ok=True)
    if frames > 0:
        tracemalloc.start(frames)
    thread = threading.Thread(
        target=_dump_every, args=(directory, every_s), name="memtrace", daemon=True
    )
    thread.start()
    return thread


def _dump_every(directory: Path, every_s: float) -> None:
    seq = 0
    while True:
        time.sleep(every_s)
        dump(directory, seq)
        seq += 1


def dump(directory: Path, seq: int) -> None:
    """One snapshot and one line of counts into `directory`."""
    pid = os.getpid()
    if tracemalloc.is_tracing():
        tracemalloc.take_snapshot().dump(str(directory / f"{pid}-{seq:04d}.tracemalloc"))
    malloc_info(directory / f"{pid}-{seq:04d}.malloc.xml")
    types = Counter(type(o).__name__ for o in gc.get_objects())
    line = {
        "wall": time.time(),
        "seq": seq,
        "rss_kb": _rss_kb(pid),
        "blocks": sys.getallocatedblocks(),
        "traced": tracemalloc.get_traced_memory()[0],
        "malloc": mallinfo(),
        "types": dict(types.most_common(TOP_TYPES)),
    }
    with (directory / f"{pid}.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


_MALLINFO_FIELDS = (
    "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
    "fordblks", "keepcost",
)  # fmt: skip


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO_FIELDS]


def mallinfo() -> dict[str, int] | None:
    """glibc's malloc counters over every arena (mallinfo2, glibc 2.33+), bytes: `uordblks`
    in use, `fordblks` free inside the heaps, `hblkhd` in mmapped blocks; None elsewhere. Memory
    C libraries take with malloc (libpq, OpenSSL) is here and not in tracemalloc's figure."""
    try:
        libc = ctypes.CDLL(None)
        call = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    call.restype = _MallInfo2
    info = call()
    return {name: int(getattr(info, name)) for name in _MALLINFO_FIELDS}


def malloc_info(path: Path) -> bool:
    """glibc's malloc_info XML (one <heap> per arena: its free chunks, its size) into `path`;
    False where there is none."""
    try:
        libc = ctypes.CDLL(None)
        fopen, fclose, info = libc.fopen, libc.fclose, libc.malloc_info
    except (OSError, AttributeError):
        return False
    fopen.restype = ctypes.c_void_p
    fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    fclose.argtypes = [ctypes.c_void_p]
    info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    stream = fopen(str(path).encode(), b"w")
    if not stream:
        return False
    try:
        return int(info(0, stream)) == 0
    finally:
        fclose(stream)


def _rss_kb(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text("ascii").splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    return 0


def compare(first: str, last: str, top: int = 25) -> list[str]:
    """The `top` tracebacks whose memory grew most from snapshot `first` to `last`."""
    old = tracemalloc.Snapshot.load(first)
    new = tracemalloc.Snapshot.load(last)
    lines = []
    for stat in new.compare_to(old, "traceback")[:top]:
        lines.append(f"{stat.size_diff / 1024:+.1f} KiB, {stat.count_diff:+d} blocks")
        lines += [f"    {frame}" for frame in stat.traceback.format()]
    return lines


if __name__ == "__main__":
    print("\n".join(compare(sys.argv[1], sys.argv[2], int(sys.argv[3]) if sys.argv[3:] else 25)))
