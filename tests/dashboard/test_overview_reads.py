"""The Overview reads each gap window's row once: its rollouts take their windows from the
windows it read for the same filters (replay.api.rollouts' `known`), where it read every
window's row twice (on the 1.1M-event `large` store 5,099 + 4,921 rows turned into windows,
benchmarks/README.md "Session 33: the PostgreSQL overview and rollout pages"). The rollouts
are the same either way. Real SQLite and PostgreSQL stores of the seed's simulated run, the
page under AppTest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import streamlit as st

from gapwatch.recorder.store import make_engine
from gapwatch.recorder.timefmt import from_micros
from gapwatch.replay import api, scope
from tests.dashboard.test_overview_no_lb import overview
from tests.test_cli_retained_rebuild import _ok


def _replayed(url: str) -> str:
    _ok("simulate", "--db", url, "--cluster", "seed")
    _ok("replay", "--db", url)
    return url


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many stored window rows replay turns into windows (scope.window_from_row's calls)."""
    calls = [0]
    made: Callable[[Any], Any] = scope.window_from_row

    def counted(row: Any) -> Any:
        calls[0] += 1
        return made(row)

    monkeypatch.setattr(scope, "window_from_row", counted)
    return calls


def test_the_overview_reads_each_window_once(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _replayed(store_url)
    engine = make_engine(url)
    try:
        stored = len(api.windows(engine))
        owned = sum(len(r.windows) for r in api.rollouts(engine))
    finally:
        engine.dispose()
    assert stored and owned  # the seed's run has windows in rollouts: both reads had rows
    at = overview(url, monkeypatch)
    calls = _counting(monkeypatch)
    st.cache_data.clear()
    st.cache_resource.clear()
    at.run()  # a reload: every answer read and computed again
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Gap windows"] == str(stored)
    assert calls[0] == stored, f"{calls[0]} window rows read for {stored} windows"


def test_the_rollouts_are_the_same_with_the_windows_known(store_url: str) -> None:
    engine = make_engine(_replayed(store_url))
    try:
        (rollout, *_) = [r for r in api.rollouts(engine) if r.windows]
        cut = from_micros(rollout.windows[0].start_us + 1)
        past = from_micros(rollout.windows[0].end_us + 1)  # its first window outside
        ranges: list[dict[str, Any]] = [
            {"since": past},
            {},
            {"cluster": "seed"},
            {"cluster": "other"},
            {"service": rollout.service},
            {"since": cut},  # the rollout's first window before the range: read apart
            {"until": cut},
            {"since": cut - timedelta(hours=1), "until": cut},
        ]
        for filters in ranges:
            known = api.windows(engine, **filters)
            assert api.rollouts(engine, **filters, known=known) == api.rollouts(
                engine, **filters
            ), filters
    finally:
        engine.dispose()
