"""What the lab's end-to-end tests share: how they call `gapwatch lab`, at which speed, and the
known detector defect they tolerate apart (CLASS_FLAKE).

One lab run per test file (tests/lab/test_lab_row_*.py, test_lab_cloud_*.py), each of which can
be run alone; under pytest-xdist they are one unit at the head of the queue, one after the other
on one worker (tests/schedule.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

GAPWATCH = [sys.executable, "-m", "gapwatch.dashboard.cli"]

#: Simulated seconds per wall second for every lab test. 5x, not the command's 10x: pytest's
#: other worker runs beside the lab, and at 10x a prober look 0.9 s wall late on a loaded machine
#: put NODE2's window 8.8 s (simulated) outside its bounds (the probe-refused row, a full run at
#: load 5); TKE sets a backend's weight to 0 about 2 s (simulated) before kube-proxy closes, and a
#: poller look 0.2 s wall late is 2 s late at 10x. The recording claims are about what a recorder
#: at 1x would store.
SPEED = "5"

#: 90 s simulated: the presets' rollout (from 60 s) has ended, its last pod deleted
#: (tencent-clb-grace: at 81.7 s), so no window is cut by the end of the run.
DURATION = "90"

#: The seed-3node NODE2 window (true closed-before-deregistered, 64.2-69.9 s: the old pod
#: terminating, the LB healthy throughout, the replacement ready at 67 s) is sometimes recorded
#: `pod-gone-before-deregistered (or closed-before-deregistered: undecided)` (1 run in 8 or more
#: under load, with the lab's late script of before session 15; 0 in 8 on 59d3da9, docs/lab.md).
#: Issue 17 found why from a failing run's stored rows: the prober's looks left
#: kube-proxy's close anywhere in 63.15-67.66 s and the old pod's death (finishedAt 67 s, seen
#: gone at 68.41 s) in 66.0-68.41 s: the samples do not order the two causes, and undecided is the
#: honest answer. The verdict calls such a window matched-undecided when the stored rows leave the
#: order open (recorder/lab/classorder.py), counted apart (`matched_undecided`): the tests accept
#: it. A class the stored rows decide and replay gets wrong is a detector defect (issue 13,
#: measured by benchmarks/accuracy.py), not a recording one: the class tests xfail with it, naming
#: the window, so the CI log shows it.
CLASS_FLAKE = (
    "detector (issue 13): a window's class is wrong where the stored samples order its causes"
)

#: The marks of every end-to-end lab test: 600 s because pytest-timeout counts a module
#: fixture's run in the module's first test (270-283 s seen at load 5 for three runs).
LAB_MARKS = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(600)]

#: One `gapwatch lab` call: exit code, its --json output (None when it printed none), stderr.
Run = tuple[int, Any, str]


def run(*args: str, timeout: float) -> Run:
    done = subprocess.run(
        [*GAPWATCH, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    return done.returncode, json.loads(done.stdout or "null"), done.stderr


def run_in_own_database(pg_template: str | None, *args: str, cache: Path) -> Iterator[Run]:
    """`gapwatch ARGS` at the lab tests' speed and duration, recording into an empty database of
    the session's PostgreSQL, dropped after (a module fixture yields from it); the baseline kept
    in `cache` (`--baseline-cache`)."""
    from tests.conftest import _require_pg, drop_pg_database, new_pg_database

    url = new_pg_database(_require_pg(pg_template), migrated=False)
    try:
        yield run(
            *args,
            *("--speed", SPEED, "--duration", DURATION, "--db", url, "--json"),
            *("--baseline-cache", str(cache)),
            timeout=400,
        )
    finally:
        drop_pg_database(url)
