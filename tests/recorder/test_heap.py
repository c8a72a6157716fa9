"""recorder/heap.py: the recorder process keeps at most two malloc arenas and gives free pages
back. Before, each of its worker threads grew an arena of its own (seven in a soak's recorder)
and its resident memory grew ~20 MB an hour while its Python objects did not
(benchmarks/README.md). The recorder runs for real against the fake Kubernetes API, into SQLite;
glibc's own malloc_info says how many arenas the process has."""

from __future__ import annotations

import ctypes
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gapwatch.recorder import heap, memtrace
from gapwatch.recorder.record import MEMORY_ENV
from tests.recorder.test_memtrace import lines_of, record_traced

GLIBC = heap._libc() is not None
pytestmark = pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")


def arenas(xml: Path) -> int:
    """The arenas (heaps) one malloc_info dump lists."""
    return len(re.findall(r'<heap nr="\d+">', xml.read_text()))


def test_the_recorder_keeps_at_most_two_arenas(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    traced = tmp_path / "mem"
    env = {MEMORY_ENV: str(traced), memtrace.EVERY_ENV: "0.2", memtrace.FRAMES_ENV: "0"}
    record_traced(tmp_path, migrated_sqlite(tmp_path / "store.db"), env)
    dumps = sorted(traced.glob("*.malloc.xml"))
    assert len(lines_of(traced)) >= 2 and dumps
    # its threads: the executor's workers (store reads and writes), the dumping thread
    assert arenas(dumps[-1]) <= heap.ARENAS


def test_threads_share_the_arenas_once_limited(tmp_path: Path) -> None:
    """Eight threads that each allocate while the others hold their memory: one arena each
    (nine) by default, two once limited (the same test, without `limit_arenas`, says nine)."""
    script = """
import sys, threading
from pathlib import Path
from gapwatch.recorder import heap, memtrace
if sys.argv[1] == "limit":
    assert heap.limit_arenas({})
held, barrier = [], threading.Barrier(8)
def work():
    held.append([bytearray(4000) for _ in range(100)])
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
memtrace.malloc_info(Path(sys.argv[2]))
"""
    counts: dict[str, int] = {}
    for mode in ("limit", "default"):
        out = tmp_path / f"{mode}.xml"
        subprocess.run([sys.executable, "-c", script, mode, str(out)], check=True, env={})
        counts[mode] = arenas(out)
    assert counts["limit"] <= heap.ARENAS < counts["default"]


def test_trim_gives_free_pages_back() -> None:
    """Blocks freed in the middle of the heap (every other one of 20,000 kept): malloc_trim
    hands their pages back (it says so), which the heap's top-only trimming never does."""
    kept = [ctypes.create_string_buffer(3000) for _ in range(20000)]
    del kept[::2]
    assert heap.trim()
