"""`gapwatch report --rollout` lists the windows the rollout owns, the ones its advice counts
(replay.owned, as the dashboard's rollout page lists them), and says how many other windows of
the Service overlap its span and which group owns them.

Before, it listed every window of the Service in the rollout's span while the advice under it
counted only the rollout's own: on two rollouts 40 s apart (tests/replay/two-rollouts.yaml), whose
every window replay gives to the first, the second's report listed the first's 3 windows in its
table, said "3 gap windows on 2 nodes" and then "0 windows observed" in its advice.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.sim import load_scenario
from gapwatch.recorder.sim import run as run_sim
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.timefmt import from_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api
from gapwatch.replay.facts import write_facts
from gapwatch.replay.model import Rollout
from gapwatch.replay.rollout_range import rollout_range
from tests.dashboard.test_report import md_tables, run

TWO_ROLLOUTS = Path(__file__).resolve().parents[1] / "replay" / "two-rollouts.yaml"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('owned') / 'two.db'}"
    engine = make_engine(url)
    upgrade(engine)
    scenario = load_scenario(str(TWO_ROLLOUTS))
    EventWriter(engine, derive=write_facts).write_all(run_sim(scenario, seed=1).observations)
    engine.dispose()
    return url


def _report(url: str, rollout: Rollout, tmp_path: Path) -> str:
    out = tmp_path / f"{rollout.id}.md"
    code, _, err = run("report", "--db", url, "--rollout", rollout.id, "-o", str(out))
    assert code == 0, err
    return out.read_text()


def _advised(engine: Engine, rollout: Rollout) -> int:
    lo, hi = rollout_range(rollout, api.assumptions(engine))
    advice = api.advise(
        engine, rollout.service, since=from_micros(lo), until=from_micros(hi), rollout=rollout
    )
    return advice.windows_before


def test_the_report_lists_the_windows_its_advice_counts(two: str, tmp_path: Path) -> None:
    engine = make_engine(two)
    try:
        first, second = sorted(
            (r for r in api.rollouts(engine) if r.kind == "rollout"), key=lambda r: r.start_us
        )
        span = api.windows(
            engine,
            service=second.service,
            since=from_micros(second.start_us),
            until=from_micros(second.end_us),
        )
        advised = {r.id: _advised(engine, r) for r in (first, second)}
    finally:
        engine.dispose()
    assert first.windows and not second.windows  # replay gives every window to the first
    theirs = [w for w in span if w.rollout == first.id]
    assert theirs  # and some of them lie in the second's span

    text = _report(two, second, tmp_path)
    assert not [t for t in md_tables(text) if t and "node" in t[0]]  # no window table
    n = len(theirs)
    assert f"No gap window of its own: replay gave the {n} in this span to other groups" in text
    assert (
        f"{n} other gap window{'s' if n != 1 else ''} of this Service overlap this span, not "
        f"listed here nor counted by the advice: replay gave {n} to {first.id} (rollout of "
        f"{first.workload}: `gapwatch report --rollout {first.id}`)."
    ) in text
    assert advised[second.id] == 0
    assert "0 windows observed" in text
    assert "For the windows of this rollout, over its range (" in text

    text = _report(two, first, tmp_path)
    windows_table = md_tables(text)[0]
    assert len(windows_table) == len(first.windows) == advised[first.id]
    assert f"{advised[first.id]} windows observed" in text
    assert sorted(r["node"] for r in windows_table) == sorted(w.node for w in first.windows)
