"""Replay's reads allocate Arrow buffers from the C library's malloc unless the user chose a
pool: pyarrow's bundled mimalloc made the first read of a new process fault in its pages
(replay.copyfold.use_system_allocator, run when the PostgreSQL read is first imported, before its
first buffer). Each case is a fresh interpreter, as `gapwatch replay` is."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = (
    "import pyarrow as pa; before = pa.default_memory_pool().backend_name; "
    "import gapwatch.replay.copyfold; print(before, pa.default_memory_pool().backend_name)"
)


def _pools(env_pool: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_pool is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_pool
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_reads_use_the_system_allocator_by_default() -> None:
    before, after = _pools(None)
    assert after == "system"
    if before == "system":
        pytest.skip("this pyarrow's own default is already the system allocator")


def test_a_pool_the_user_chose_is_kept() -> None:
    before, after = _pools("mimalloc")
    assert before == after == "mimalloc"
