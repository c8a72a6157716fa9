"""What-if and advice over a range (replay.scope) equal the full what-if's, on both backends.

The reference is the what-if of the Service's whole history (`api.whatif` without a range:
every fact folded), keeping the windows that overlap the range. The scoped path folds only the
EndpointSlice versions around the range, their pods and Nodes, and reads the lags, recorded
windows and context from the projections. Stores are simulated (recorder.sim); ranges are each
rollout's span (the dashboard's default scope) and each recorded window with a margin, under
settings that move every lane, also while the store grows (incremental refresh) and on
projections built before the context was stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, text

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.timefmt import from_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, projections
from gapwatch.replay.facts import write_facts
from gapwatch.replay.model import ServiceRef, WhatIf, Window

S = 1_000_000
SETTINGS = (
    WhatIf(),
    WhatIf(prestop_s=30),
    WhatIf(prestop_s=30, proxy_terminating_endpoints=True),
    WhatIf(proxy_terminating_endpoints=False),
    WhatIf(ccm_register_delay_s=10),
    WhatIf(hc_interval_s=5, hc_unhealthy_threshold=2),
    WhatIf(termination_grace_s=60, prestop_s=90),
)


def _key(w: Window) -> tuple[object, ...]:
    """What a what-if window says (the recorded ones also carry their rollout and failed
    requests from the projections; detection on the fly does not set those)."""
    return (
        w.service, w.node, w.cls, w.start_us, w.end_us, w.start_earliest_us,
        w.start_latest_us, w.end_earliest_us, w.end_latest_us, w.certain, w.provenance,
    )  # fmt: skip


def _overlapping(windows: Sequence[Window], lo: int, hi: int) -> list[Window]:
    return [w for w in windows if w.end_us >= lo and w.start_us < hi]


def _ranges(engine: Engine, svc: ServiceRef) -> list[tuple[int, int]]:
    spans = [(r.start_us - 15 * S, r.end_us + 15 * S) for r in api.rollouts(engine, service=svc)]
    spans += [(w.start_us - 20 * S, w.end_us + 20 * S) for w in api.windows(engine, service=svc)]
    return spans


def _check(engine: Engine, svc: ServiceRef, settings: Sequence[WhatIf] = SETTINGS) -> int:
    full = {s: api.whatif(engine, svc, s) for s in settings}
    checked = 0
    for lo, hi in _ranges(engine, svc):
        since, until = from_micros(lo), from_micros(hi)
        for s in settings:
            got = sorted(map(_key, api.whatif(engine, svc, s, since=since, until=until)))
            assert got == sorted(map(_key, _overlapping(full[s], lo, hi))), (lo, hi, s)
            checked += 1
    return checked


def _write(engine: Engine, preset: str, seed: int) -> None:
    observations = run(load_scenario(preset), seed=seed).observations
    EventWriter(engine, derive=write_facts).write_all(observations)


def test_scoped_whatif_equals_the_full_whatif(engine: Engine) -> None:
    _write(engine, "aws-nlb", 3)
    (svc,) = api.services(engine)
    assert _check(engine, svc) > 40
    # and some range's what-if differs from the recording: the comparison is not vacuous
    rollout = api.rollouts(engine, service=svc)[0]
    since, until = from_micros(rollout.start_us), from_micros(rollout.end_us)
    moved = api.whatif(engine, svc, WhatIf(prestop_s=30), since=since, until=until)
    recorded = api.windows(engine, service=svc, since=since, until=until)
    assert sorted(map(_key, moved)) != sorted(map(_key, recorded))


def test_scoped_advice_counts_the_ranges_windows(engine: Engine) -> None:
    _write(engine, "seed-3node", 1)
    (svc,) = api.services(engine)
    rollout = api.rollouts(engine, service=svc)[0]
    lo, hi = rollout.start_us - 15 * S, rollout.end_us + 15 * S
    since, until = from_micros(lo), from_micros(hi)
    advice = api.advise(engine, svc, since=since, until=until)
    assert advice.windows_before == len(api.windows(engine, service=svc, since=since, until=until))
    assert advice.windows_before > 0
    after = _overlapping(api.whatif(engine, svc, advice.settings), lo, hi)
    assert advice.windows_after == len(after) < advice.windows_before
    # the lags it rests on are the Service's, measured over its whole history
    assert advice.lags == api.advise(engine, svc).lags


def test_scoped_whatif_follows_incremental_refresh(engine: Engine) -> None:
    observations = list(run(load_scenario("seed-3node"), seed=2).observations)
    writer = EventWriter(engine, derive=write_facts)
    step = len(observations) // 3 + 1
    for i in range(0, len(observations), step):
        writer.write(observations[i : i + step])
        projections.refresh(engine)
        for svc in api.services(engine):
            _check(engine, svc, SETTINGS[:3])


def test_projections_from_before_the_context_still_answer(engine: Engine) -> None:
    """A store whose projections predate the stored context: services come from the facts and
    a scope derives the context from the Service's facts."""
    _write(engine, "seed-3node", 1)
    (svc,) = api.services(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM replay_state WHERE key LIKE 'ctx:%'"))
    assert api.services(engine) == [svc]
    _check(engine, svc, SETTINGS[:2])
