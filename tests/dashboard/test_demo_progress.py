"""`gapwatch demo --large` simulates 1.1M events for minutes: it shows a progress bar per
simulation (it printed one line, then nothing until the end)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gapwatch.dashboard import demo
from gapwatch.dashboard.cli import app
from gapwatch.recorder.sim import load_scenario


def test_each_simulation_advances_its_bar_to_the_scenario_duration(tmp_path: Path) -> None:
    bars: list[tuple[str, float | None, list[float]]] = []

    @contextmanager
    def track(description: str, total: float | None) -> Iterator[Any]:
        steps: list[float] = []
        bars.append((description, total, steps))
        yield steps.append

    demo.build_demo_store(tmp_path / "d.db", track=track)
    assert [(d, t) for d, t, _ in bars] == [
        (f"simulating {preset}", load_scenario(preset).duration_s)
        for preset, _ in demo.DEFAULT_SCENARIOS
    ]
    for _, total, steps in bars:
        assert len(steps) > 10 and min(steps) >= 0
        assert sum(steps) == pytest.approx(total)


def test_the_demo_shows_the_bars_with_large_only(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[object] = []

    def build(*args: Any, **kwargs: Any) -> demo.DemoStore:
        given.append(kwargs.get("track"))
        raise KeyError("stop here")

    monkeypatch.setattr(demo, "build_demo_store", build)
    for extra in ([], ["--large"]):
        CliRunner().invoke(app, ["demo", "--build-only", "--path", "x.db", *extra])
    assert given[0] is None and callable(given[1])
