"""A reader that goes away (`gapwatch gaps | head`) ends the command quietly with exit 141, as
a C tool killed by SIGPIPE: before, a table and plain NDJSON lines both exited 1, an error's
code, so a script under `set -o pipefail` failed as if gapwatch had.

Real processes: the console script's entry point in a child whose stdout is a pipe the test
closed before the child wrote, so its first write meets EPIPE however fast the machine is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gapwatch.recorder.cliutil import EXIT_PIPE_CLOSED
from tests.test_cli_interrupt import store

ENTRY = "from gapwatch.dashboard.entry import main; main()"


def run_into_closed_pipe(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the child's first write raises EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-c", ENTRY, *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={**os.environ, **(env or {})},
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


@pytest.fixture
def empty_store(tmp_path: Path) -> str:
    return store(tmp_path / "s.db")


def test_a_rich_table_into_a_closed_pipe_exits_141_quietly(empty_store: str) -> None:
    code, err = run_into_closed_pipe("assumptions", "--db", empty_store)
    assert (code, err) == (EXIT_PIPE_CLOSED, "")


def test_plain_lines_into_a_closed_pipe_exit_141_quietly() -> None:
    code, err = run_into_closed_pipe("simulate", "-s", "seed-3node", "-o", "-")
    assert (code, err) == (EXIT_PIPE_CLOSED, "")


def test_an_open_pipe_still_exits_0(empty_store: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ENTRY, "assumptions", "--db", empty_store],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "proxy_lag_min_s" in done.stdout
