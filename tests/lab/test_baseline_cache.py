"""`gapwatch lab --baseline-cache DIR`: the baseline computed once for a series of calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gapwatch.recorder.lab import run

KEY = ("seed-3node", 1, 5.0, 0.1, 90.0)
WINDOWS = [{"node": "NODE2", "class": "closed-before-deregistered", "start_earliest": 64.2}]


class Counted:
    def __init__(self, windows: list[dict[str, Any]]) -> None:
        self.windows, self.calls = windows, 0

    def __call__(self) -> list[dict[str, Any]]:
        self.calls += 1
        return self.windows


@pytest.fixture(autouse=True)
def _new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh `gapwatch lab` process does: no baseline in memory."""
    monkeypatch.setattr(run, "_BASELINES", {})


def test_a_later_call_reads_the_kept_baseline_instead_of_computing_it(tmp_path: Path) -> None:
    first = Counted(WINDOWS)
    assert run.cached_baseline(tmp_path, KEY, first) == WINDOWS
    run._BASELINES.clear()  # the next `gapwatch lab` call: another process
    second = Counted([])
    assert run.cached_baseline(tmp_path, KEY, second) == WINDOWS
    assert (first.calls, second.calls) == (1, 0)
    assert [p.name for p in tmp_path.iterdir()] == ["baseline-seed-3node-1-5.0-0.1-90.0.json"]


def test_another_scenario_or_setting_is_computed_apart(tmp_path: Path) -> None:
    run.cached_baseline(tmp_path, KEY, Counted(WINDOWS))
    run._BASELINES.clear()
    other = Counted([])
    assert run.cached_baseline(tmp_path, ("seed-3node", 1, 10.0, 0.1, 90.0), other) == []
    assert other.calls == 1


def test_without_a_cache_each_process_computes_its_own(tmp_path: Path) -> None:
    first, second = Counted(WINDOWS), Counted(WINDOWS)
    run.cached_baseline(None, KEY, first)
    run.cached_baseline(None, KEY, first)  # the same process: kept in memory
    run._BASELINES.clear()
    run.cached_baseline(None, KEY, second)
    assert (first.calls, second.calls) == (1, 1)
    assert list(tmp_path.iterdir()) == []
