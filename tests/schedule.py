"""pytest-xdist's `--dist loadfile` (pyproject's addopts), with the lab's end-to-end runs first
and on one worker.

The lab's runs (tests/lab/test_lab.py, test_lab_row_*.py, test_lab_cloud_*.py, and the shorter
test_lab_start.py and test_lab_first_look.py) take 30-43 s of
wall each since session 14 kept bytecode and the baseline once per suite (40-80 s each, about
570 s together, before), against seconds for most files. xdist orders
its work by the number of tests in a file, so these few-test files came last and one worker was
still running them long after the other had finished (session 10: 875 s of tests). Here they are
one unit at the head of the queue: one worker runs them one after the other (side by side, two
labs on two cores made the pollers' looks late: docs/lab.md, "CI time") while the other worker
starts on the rest, and both share what is left. A worker that dies is handled as xdist does.

After the lab, the slowest files go first (session 36): xdist's order (most tests first) put
files of few but slow tests last (tests/lb/test_push_storable.py, 12 tests, 217 s of a loaded
run's 1,950; tests/replay/test_sync_kept.py, 4 tests, 77 s), so one worker was still running one
after the others had nothing left. Each unit is now taken by its cost in tests/file_costs.py
(longest first, the classic longest-processing-time order), files not listed after them in
xdist's order: the end of a run is made of short files.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import pytest
from xdist import plugin as xdist_plugin
from xdist.scheduler import LoadFileScheduling

from tests.file_costs import FILE_COST_S

#: The one work unit every lab run joins.
LAB_UNIT = "tests/lab/ (the lab's end-to-end runs)"


def is_lab_run(path: str) -> bool:
    """A test file whose tests run `gapwatch lab` end to end."""
    name = path.rsplit("/", 1)[-1]
    return path.startswith("tests/lab/") and (
        name == "test_lab.py"
        or name.startswith("test_lab_row_")
        or name.startswith("test_lab_cloud_")
        or name in ("test_lab_start.py", "test_lab_first_look.py")
    )


def unit_cost(unit: str) -> float:
    """How long a work unit is expected to take: the lab's unit before all, then a file's cost
    from tests/file_costs.py, 0 for a file not listed."""
    return float("inf") if unit == LAB_UNIT else FILE_COST_S.get(unit, 0.0)


class _LabFirst(OrderedDict[str, Any]):
    """A work queue that keeps the lab's unit at its head, whatever order units are added in,
    and gives out the costliest unit first (xdist takes the next one with popitem(last=False));
    among equal costs, the first in the queue (xdist's order)."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        if key == LAB_UNIT:
            self.move_to_end(key, last=False)

    def popitem(self, last: bool = True) -> tuple[str, Any]:
        if last or not self:
            return super().popitem(last)
        key = max(self, key=unit_cost)  # max keeps the first of equals
        return key, self.pop(key)


# xdist is untyped here (pyproject: ignore_missing_imports)
class LabFirstScheduling(LoadFileScheduling):  # type: ignore[misc]
    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self.workqueue = _LabFirst()

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return LAB_UNIT if is_lab_run(path) else super()._split_scope(nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    """Ours for `--dist loadfile` only: another --dist keeps xdist's own."""
    if config.getvalue("dist") != "loadfile":
        return None
    return LabFirstScheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker per core, as xdist counts them, plus one for the lab's unit.

    The lab's runs wait on their simulated clock most of their wall time (three cloud runs: 122 s
    of wall, 38 s of user CPU, docs/lab.md "CI time"), so with one worker per core the worker that
    holds them leaves most of a core idle for minutes while the other runs everything else. A
    third worker takes that core's idle time; the runs themselves stay one after the other.
    `PYTEST_XDIST_AUTO_NUM_WORKERS` and `-n N` are taken as given."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return int(xdist_plugin.pytest_xdist_auto_num_workers(config)) + 1
