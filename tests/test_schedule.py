"""tests/schedule.py: the lab's end-to-end runs are one unit at the head of xdist's queue."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from xdist import plugin as xdist_plugin

from tests.file_costs import FILE_COST_S
from tests.schedule import (
    LAB_UNIT,
    _LabFirst,
    is_lab_run,
    pytest_xdist_auto_num_workers,
    unit_cost,
)

ROOT = Path(__file__).resolve().parent.parent


def test_every_file_that_runs_the_lab_joins_the_lab_unit_and_no_other_does() -> None:
    """A file runs the lab when it calls tests/lab/labcli.py's `run`, star-imports a lab
    run's tests or records one in-process (session.record_run): adding one that the scheduler
    does not know would put it back beside the others."""
    runs_lab = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path.resolve() == Path(__file__).resolve():
            continue
        text = path.read_text("utf-8")
        if "from tests.lab.labcli import" in text and " run" in text.split("labcli import")[1][:80]:
            runs_lab.add(path)
        if "from tests.lab.faultrow import *" in text or "from tests.lab.cloudrun import *" in text:
            runs_lab.add(path)
        if "record_run" in text:
            runs_lab.add(path)
    classified = {
        p for p in (ROOT / "tests").rglob("test_*.py") if is_lab_run(str(p.relative_to(ROOT)))
    }
    assert len(runs_lab) >= 8
    assert classified == runs_lab


def test_the_lab_unit_is_taken_first_whenever_it_is_queued() -> None:
    queue = _LabFirst()
    for unit in ["tests/a.py", "tests/b.py", LAB_UNIT, "tests/c.py"]:
        queue[unit] = {}
    assert queue.popitem(last=False)[0] == LAB_UNIT
    assert list(queue) == ["tests/a.py", "tests/b.py", "tests/c.py"]
    # a dead worker's units are put back with update(): the lab's unit goes back to the head
    queue.update({LAB_UNIT: {}})
    assert next(iter(queue)) == LAB_UNIT


def test_after_the_lab_the_costliest_file_is_taken_first_and_unlisted_ones_last() -> None:
    """Longest first: a file of few slow tests must not be left for the end of the run."""
    by_cost = sorted(FILE_COST_S, key=FILE_COST_S.__getitem__)
    light, heavy = by_cost[0], by_cost[-1]
    assert FILE_COST_S[heavy] > FILE_COST_S[light] > 0
    queue = _LabFirst()
    for unit in ["tests/unlisted_a.py", light, LAB_UNIT, "tests/unlisted_b.py", heavy]:
        queue[unit] = {}
    taken = [queue.popitem(last=False)[0] for _ in range(len(queue))]
    assert taken == [LAB_UNIT, heavy, light, "tests/unlisted_a.py", "tests/unlisted_b.py"]
    assert unit_cost("tests/unlisted_a.py") == 0.0


def test_every_file_given_a_cost_exists_and_is_its_own_unit() -> None:
    """A renamed or removed file would leave its cost behind and its new name unlisted (taken
    last); the lab's runs are costed as one unit, never apart."""
    for path in FILE_COST_S:
        assert (ROOT / path).is_file(), path
        assert path.startswith("tests/") and not is_lab_run(path), path


def test_auto_gives_the_lab_a_worker_of_its_own_unless_told_a_number(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-n auto` takes one worker more than xdist's own count (the lab's unit waits on its clock);
    an explicit PYTEST_XDIST_AUTO_NUM_WORKERS is left to xdist, as given."""
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    cores = xdist_plugin.pytest_xdist_auto_num_workers(pytestconfig)
    assert pytest_xdist_auto_num_workers(pytestconfig) == cores + 1
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "1")
    assert pytest_xdist_auto_num_workers(pytestconfig) is None


def test_the_processes_the_session_starts_keep_their_bytecode() -> None:
    """tests/conftest.py's pytest_configure: a subprocess (xdist's worker running this test, or a
    `gapwatch` command it starts) writes and reads __pycache__ whatever the machine set."""
    import subprocess
    import sys

    assert "PYTHONDONTWRITEBYTECODE" not in os.environ
    child = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.dont_write_bytecode)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == "False"
