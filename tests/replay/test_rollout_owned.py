"""A rollout's what-if and advice count the windows it owns, not every window in its range
(issue #13), on both backends.

The store: tests/replay/two-rollouts.yaml, two rollouts 40 s apart, simulated (recorder.sim).
Replay groups every window into the first (`gapwatch rollouts`: 6 and 0); the second's range
(its start to its end plus settle_s) holds three of them. Before, `whatif --rollout` of the
second said "3 window(s) left, against 3 recorded" and its advice counted 3 before. The
reference for what a re-simulated window belongs to is the what-if of the whole history
grouped on the whole fold (`api.whatif` without bounds)."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import Engine

from gapwatch.dashboard.report import collect
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api
from gapwatch.replay.facts import write_facts
from gapwatch.replay.group import group
from gapwatch.replay.load import load_state
from gapwatch.replay.model import Rollout, WhatIf, Window
from gapwatch.replay.rollout_range import rollout_range
from tests.test_cli_honest import run as cli

SCENARIO = Path(__file__).with_name("two-rollouts.yaml")
SETTINGS = (
    WhatIf(),
    WhatIf(prestop_s=30),
    WhatIf(prestop_s=30, proxy_terminating_endpoints=True),
    WhatIf(ccm_register_delay_s=10),
)


def _key(w: Window) -> tuple[object, ...]:
    return (w.service, w.node, w.cls, w.start_us, w.end_us, w.provenance)


def _rollouts(engine: Engine) -> list[Rollout]:
    EventWriter(engine, derive=write_facts).write_all(
        run(load_scenario(str(SCENARIO)), seed=1).observations
    )
    found = [r for r in api.rollouts(engine) if r.kind == "rollout"]
    assert len(found) == 2
    return found


def _neighbours(engine: Engine, r: Rollout) -> list[Window]:
    """Recorded windows another group owns that start inside `r`'s range."""
    lo, hi = rollout_range(r, api.assumptions(engine))
    return [
        w
        for w in api.windows(engine, service=r.service)
        if lo <= w.start_us < hi and w.rollout != r.id
    ]


def test_as_recorded_equals_the_rollouts_own_windows(engine: Engine) -> None:
    rollouts = _rollouts(engine)
    assert any(_neighbours(engine, r) for r in rollouts)  # the case is there
    for r in rollouts:
        got = api.whatif(engine, r.service, WhatIf(), rollout=r)
        assert sorted(map(_key, got)) == sorted(map(_key, r.windows)), r.id
        advice = api.advise(engine, r.service, rollout=r)
        assert advice.windows_before == len(r.windows), r.id


def test_a_replayed_window_is_the_rollouts_as_the_whole_history_groups_it(
    engine: Engine,
) -> None:
    """The scoped what-if (the facts around the range) keeps the windows that replay's own
    grouping (replay.group.group on the whole fold) gives the rollout, of the whole history's
    what-if."""
    rollouts = _rollouts(engine)
    state = load_state(engine, service=rollouts[0].service)
    moved = 0
    for r in rollouts:
        lo, hi = rollout_range(r, api.assumptions(engine))
        for s in SETTINGS:
            scoped = api.whatif(engine, r.service, s, rollout=r)
            whole = api.whatif(engine, r.service, s)
            _groups, grouped = group(state, whole, [r.service], api.assumptions(engine))
            inside = [w for w in grouped if w.end_us >= lo and w.start_us < hi]
            reference = [w for w in inside if w.rollout == r.id]
            assert sorted(map(_key, scoped)) == sorted(map(_key, reference)), (r.id, s)
            moved += len(inside) - len(reference)
    assert moved > 0  # some range held a neighbour's replayed window


def test_the_cli_and_the_report_count_the_rollouts_own(engine: Engine, store_url: str) -> None:
    for r in _rollouts(engine):
        code, out, err = cli("whatif", "--db", store_url, "--rollout", r.id, "--json")
        assert code == 0, err
        doc = orjson.loads(out)
        assert doc["windows_recorded"] == len(r.windows), r.id
        assert len(doc["windows"]) == len(r.windows), r.id
        code, out, err = cli("whatif", "--db", store_url, "--rollout", r.id)
        assert f"{len(r.windows)} window(s) left, against {len(r.windows)} recorded" in out
        (section,) = collect(engine, rollout=r.id).sections
        assert section.advice.windows_before == len(r.windows), r.id
