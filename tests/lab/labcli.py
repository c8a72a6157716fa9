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

#: A known detector defect (issue 13), not a recording one: in some lab runs (1 of 27 of merged
#: main) the seed-3node NODE2 window (true closed-before-deregistered, 64.2-69.9 s: the old pod
#: terminating, the LB healthy throughout, the replacement ready at 67 s) is found and bounded but
#: takes another class, depending on when the prober's looks fell: registered-before-forwarding
#: (fixed in session 5: replay/detect.py `proxy_opened`) and pod-gone-before-deregistered (seen
#: once in a clean-clone CI run at quiet load, cause not found). Not strict: it passes in most
#: runs; the windows' other claims are asserted strictly. Fixed (issue 17, branch i17-timeout): a
#: sure start's class is read over its whole range (docs/semantics.md); a grid of 900 perturbed
#: timings of the kept NODE2 lane gave 340 certain wrong classes before, 0 after, and 10 lab runs
#: in a row matched. The marker stays, non-strict, as a guard until clean-clone CI runs have shown
#: it passing (an XPASS there is the evidence).
CLASS_FLAKE = (
    "detector (issue 13): seed-3node's NODE2 closed-before-deregistered window sometimes takes "
    "another class when the prober's looks fall late (pod-gone-before-deregistered seen in CI)"
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


def run_in_own_database(pg_template: str | None, *args: str) -> Iterator[Run]:
    """`gapwatch ARGS` at the lab tests' speed and duration, recording into an empty database of
    the session's PostgreSQL, dropped after (a module fixture yields from it)."""
    from tests.conftest import _require_pg, drop_pg_database, new_pg_database

    url = new_pg_database(_require_pg(pg_template), migrated=False)
    try:
        yield run(
            *args, "--speed", SPEED, "--duration", DURATION, "--db", url, "--json", timeout=400
        )
    finally:
        drop_pg_database(url)
