"""`gapwatch replay --rebuild` runs for minutes on a large store: each step shows its progress
(it printed nothing until "rebuilt: N windows"). The steps' totals are what the store holds and
each bar reaches its total, on both backends (PostgreSQL folds from one COPY, SQLite from a
cursor); the CLI shows lines in a log only for a step large enough to take a while."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder import progresslines
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter, no_derive
from gapwatch.replay import projections
from gapwatch.replay.catchup import catch_up
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.context import nodes_of
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, lb_facing
from gapwatch.replay.load import fold_stored
from tests.replay.test_projections import _tables

Bars = list[tuple[str, float | None, list[float]]]


def _recorder(bars: Bars):  # type: ignore[no-untyped-def]
    @contextmanager
    def track(description: str, total: float | None) -> Iterator[object]:
        steps: list[float] = []
        bars.append((description, total, steps))
        yield steps.append

    return track


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _nodes(engine: Engine) -> int:
    """The nodes of the store's LB-facing Services: what "detecting windows" counts."""
    with engine.connect() as conn:
        state = fold_stored(conn, FoldState())
    return sum(len(nodes_of(state, s)) for s in lb_facing(state))


def _detecting(services: int, nodes: int) -> tuple[str, int]:
    return f"detecting windows of {services} Services on {nodes:,} nodes", nodes


def _seeded(engine: Engine, derive: object = write_facts, cluster: str = "sim") -> None:
    scenario = load_scenario("seed-3node", {"cluster": cluster})
    EventWriter(engine, derive=derive).write(run(scenario, seed=3).observations)  # type: ignore[arg-type]


def test_each_step_of_a_rebuild_reaches_its_total(engine: Engine) -> None:
    _seeded(engine)
    bars: Bars = []
    windows = projections.rebuild(engine, rederive=True, track=_recorder(bars))
    assert windows > 0
    events, facts = _count(engine, "events"), _count(engine, "facts")
    nodes = _nodes(engine)
    assert nodes > 1
    assert [(d, t) for d, t, _ in bars] == [
        ("re-deriving facts", events),
        ("folding facts", facts),
        _detecting(1, nodes),
    ]
    for description, total, steps in bars:
        assert sum(steps) == total, description
        assert min(steps) >= 0
    # one Service is one long step on a large store: its bar moves node by node
    assert bars[-1][2] == [1] * nodes


def test_catching_up_facts_shows_the_events_behind(engine: Engine) -> None:
    """Events stored without facts (a writer that does not derive) are derived first."""
    _seeded(engine, derive=no_derive)
    bars: Bars = []
    catch_up(engine, track=_recorder(bars))
    [(description, total, steps)] = bars
    with engine.connect() as conn:
        lo, hi = conn.execute(text("SELECT min(id), max(id) FROM events")).one()
    assert description == "deriving facts"
    assert total == hi - lo + 1  # ids behind the projector's position 0 ... max(id)
    assert sum(steps) == total
    assert _count(engine, "facts") > 0


def test_an_untracked_rebuild_gives_the_same_rows(engine: Engine) -> None:
    _seeded(engine)
    tracked = projections.rebuild(engine, track=_recorder([]))
    rows = _tables(engine)
    assert projections.rebuild(engine) == tracked
    assert _tables(engine) == rows


def test_a_refresh_with_a_checkpoint_folds_what_is_new_with_a_bar(engine: Engine) -> None:
    """`gapwatch replay` without --rebuild: its first run on a large store folds it all."""
    _seeded(engine)
    checkpoint, bars = Checkpoint(), []  # type: ignore[var-annotated]
    projections.refresh(engine, checkpoint=checkpoint, track=_recorder(bars))
    assert [(d, t) for d, t, _ in bars] == [
        ("folding facts", _count(engine, "facts")),
        _detecting(1, _nodes(engine)),
    ]
    assert all(sum(steps) == total for _d, total, steps in bars)
    assert bars[-1][2] == [1] * _nodes(engine)
    before = _count(engine, "facts")
    _seeded(engine, cluster="other")  # a second cluster's events: only their facts are new
    bars.clear()
    projections.refresh(engine, checkpoint=checkpoint, track=_recorder(bars))
    assert bars[0][:2] == ("folding facts", _count(engine, "facts") - before)
    assert all(sum(steps) == total for _d, total, steps in bars)


def test_a_refresh_without_a_checkpoint_counts_the_facts_then_the_nodes(engine: Engine) -> None:
    """Each Service is folded from its own facts, then detected: both counted as they go (a
    large store's one Service was one step, its bar at 0/1 for the whole first refresh)."""
    _seeded(engine)
    bars: Bars = []
    projections.refresh(engine, track=_recorder(bars))
    nodes = _nodes(engine)
    [(fold, total, folded), detecting] = bars
    which = "istio-system/istio-ingressgateway in sim (1 of 1 Services)"
    assert (fold, total) == (f"folding facts of {which}", None)
    assert 0 < sum(folded) <= _count(engine, "facts")  # its facts (a few name no Service)
    assert detecting == (f"detecting windows of {which} on {nodes} nodes", nodes, [1] * nodes)


def _cli_store(tmp_path: Path) -> str:
    from tests.test_cli_interrupt import store

    url = store(tmp_path / "store.db")
    from gapwatch.recorder.store import make_engine

    engine = make_engine(url)
    _seeded(engine)
    engine.dispose()
    return url


def test_replay_rebuild_prints_progress_lines_in_a_log_for_a_large_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a terminal (the runner's stderr): a line at most every LOG_EVERY_S seconds, as
    `import events` prints them, once a step lasts that long (here: the interval set to 0)."""
    url = _cli_store(tmp_path)
    monkeypatch.setattr(progresslines, "LOG_EVERY_S", 0.0)
    result = CliRunner().invoke(app, ["replay", "--rebuild", "--rederive", "--db", url])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any(line.startswith("re-deriving facts: 100% (") for line in lines), lines
    assert any(line.startswith("folding facts: 100% (") for line in lines), lines
    assert lines[-1].startswith("rebuilt: ")


def test_replay_prints_progress_lines_in_a_log_for_a_large_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _cli_store(tmp_path)
    monkeypatch.setattr(progresslines, "LOG_EVERY_S", 0.0)
    result = CliRunner().invoke(app, ["replay", "--db", url])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any(line.startswith("folding facts: 100% (") for line in lines), lines
    assert lines[-1].startswith("processed ")


@pytest.mark.parametrize("command", [["gaps"], ["rollouts"], ["advise"]])
def test_a_read_command_shows_the_refresh_it_runs_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """`gapwatch gaps` after a large import computes every projection before it answers."""
    url = _cli_store(tmp_path)
    monkeypatch.setattr(progresslines, "LOG_EVERY_S", 0.0)
    result = CliRunner().invoke(app, [*command, "--db", url])
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    nodes = _nodes(engine)
    engine.dispose()
    which = "istio-system/istio-ingressgateway in sim (1 of 1 Services)"
    lines = result.stderr.splitlines()
    assert f"detecting windows of {which} on {nodes} nodes: 100% ({nodes} of {nodes})" in lines
    assert any(line.startswith(f"folding facts of {which}: ") for line in lines), lines
    again = CliRunner().invoke(app, [*command, "--db", url])  # nothing new: nothing shown
    assert "detecting windows" not in again.stderr


def test_replay_rebuild_of_a_small_store_in_a_log_says_only_what_it_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store of seconds' work: no progress lines in a cron job's log (the clock stopped, so
    no machine is slow enough to make it long)."""
    monkeypatch.setattr(progresslines, "monotonic", lambda: 0.0)
    url = _cli_store(tmp_path)
    result = CliRunner().invoke(app, ["replay", "--rebuild", "--db", url])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("rebuilt: ")
