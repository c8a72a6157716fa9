"""`gapwatch demo --large` simulates 1.1M events for minutes: it shows a progress bar per
simulation (it printed one line, then nothing until the end), and the replay after them shows
its steps as `gapwatch replay` does (tests/replay/test_rebuild_progress.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gapwatch.dashboard import demo
from gapwatch.dashboard.cli import app
from gapwatch.recorder import progresslines
from gapwatch.recorder.sim import load_scenario
from gapwatch.recorder.store import make_engine
from gapwatch.replay import projections
from tests.replay.test_projections import _tables
from tests.replay.test_rebuild_progress import Bars, _count, _detecting, _nodes, _recorder


def test_each_simulation_advances_its_bar_to_the_scenario_duration(tmp_path: Path) -> None:
    bars: Bars = []
    demo.build_demo_store(tmp_path / "d.db", track=_recorder(bars))
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


def test_the_demo_replay_shows_its_steps_apart_from_the_simulations(tmp_path: Path) -> None:
    """The replay after the simulations folded and detected with nothing shown: on `--large`
    (1.1M events) about 13 s after the last simulation's bar was gone. It folds the store's
    facts once, counted as `gapwatch replay`'s first run counts them, then detects per Service;
    the rows are what a rebuild writes."""
    simulations: Bars = []
    replay: Bars = []
    store = demo.build_demo_store(
        tmp_path / "d.db", track=_recorder(simulations), replay_track=_recorder(replay)
    )
    engine = make_engine(store.url)
    try:
        facts = _count(engine, "facts")
        services = len(demo.DEFAULT_SCENARIOS)  # one LB-facing Service per cluster
        assert [(d, t) for d, t, _ in replay] == [
            ("folding facts", facts),
            _detecting(services, _nodes(engine)),
        ]
        for description, total, steps in replay:
            assert sum(steps) == total, description
        assert all(d.startswith("simulating ") for d, _t, _s in simulations)
        rows = _tables(engine)
        assert projections.rebuild(engine) == store.windows
        assert _tables(engine) == rows
    finally:
        engine.dispose()


def test_the_demo_prints_its_replay_steps_in_a_log_only_for_a_long_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `gapwatch replay` (recorder.cliutil.step_progress): stderr is not a terminal here, so
    a step prints a line only once LOG_EVERY_S seconds have passed: none on a stopped clock,
    one at each advance with the interval at 0."""
    args = ["demo", "--build-only", "--replace", "--path", str(tmp_path / "d.db")]
    monkeypatch.setattr(progresslines, "monotonic", lambda: 0.0)
    quiet = CliRunner().invoke(app, args)
    assert quiet.exit_code == 0, quiet.output
    assert "detecting windows of" not in quiet.stderr
    monkeypatch.setattr(progresslines, "LOG_EVERY_S", 0.0)
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 0, shown.output
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    step, nodes = _detecting(len(demo.DEFAULT_SCENARIOS), _nodes(engine))
    engine.dispose()
    assert f"{step}: 100% ({nodes} of {nodes})" in shown.stderr.splitlines(), shown.stderr
