"""Projections on both backends: incremental refresh equals a rebuild, and the API reads them."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from sqlalchemy import Engine, text

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.timefmt import from_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, projections
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive, write_facts
from gapwatch.replay.load import load_state
from gapwatch.replay.model import WhatIf

TABLES = {
    "replay_windows": "cluster, namespace, service, node, class, start_us, end_us, "
    "start_earliest_us, start_latest_us, end_earliest_us, end_latest_us, provenance, certain, "
    "opened_by, closed_by, rollout, failed_requests",
    "replay_rollouts": "id, kind, workload, revision_from, revision_to, start_us, end_us, "
    "windows, nodes, failed_requests",
    "replay_lags": "node, lag, at_us, seconds",
    "replay_segments": "cluster, namespace, service, node, lane, seq, state, start_us, end_us, "
    "start_earliest_us, start_latest_us, provenance, event_id, reach_before_us",
}


def _tables(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT {c} FROM {t} ORDER BY {c}"))]
            for t, c in TABLES.items()
        }


def test_incremental_equals_rebuild(engine: Engine) -> None:
    result = run(load_scenario("aws-nlb"), seed=3)
    observations = list(result.observations)
    writer = EventWriter(engine, derive=write_facts)
    processed = 0
    for i in range(0, len(observations), 97):
        writer.write(observations[i : i + 97])
        processed += projections.refresh(engine)
    # events that derive facts (every simulated kind does; a target group's settings read
    # derives its health-check settings, `tgconf`)
    assert processed == sum(1 for obs in observations if derive(0, obs))
    assert processed == len(observations)
    assert projections.refresh(engine) == 0
    incremental = _tables(engine)
    assert incremental["replay_windows"] and incremental["replay_rollouts"]
    assert incremental["replay_segments"]
    projections.rebuild(engine)
    assert _tables(engine) == incremental
    projections.rebuild(engine, rederive=True)
    assert _tables(engine) == incremental


def test_api_reads_what_detection_finds(engine: Engine) -> None:
    result = run(load_scenario("seed-3node"), seed=2)
    EventWriter(engine, derive=write_facts).write_all(result.observations)
    (svc,) = api.services(engine)
    assert svc.key == "istio-system/istio-ingressgateway" and svc.cluster == "sim"
    found = api.windows(engine)
    expected = detect(load_state(engine))
    assert [(w.node, w.cls, w.start_us, w.end_us) for w in found] == [
        (w.node, w.cls, w.start_us, w.end_us) for w in expected
    ]
    (rollout,) = api.rollouts(engine, service=svc)
    (truth,) = result.truth.rollouts
    assert (rollout.revision_from, rollout.revision_to) == (truth.revision_from, truth.revision_to)
    assert {w.rollout for w in found} == {rollout.id}
    assert sum(w.failed_requests or 0 for w in found) == len(result.truth.requests)
    # the time filter keeps windows that overlap it
    first = found[0]
    later = api.windows(engine, since=from_micros(first.end_us) + timedelta(microseconds=1))
    assert first not in later and len(later) < len(found)


def test_timeline_and_state_at(engine: Engine) -> None:
    result = run(load_scenario("seed-3node"), seed=2)
    EventWriter(engine, derive=write_facts).write_all(result.observations)
    (svc,) = api.services(engine)
    window = api.windows(engine)[0]
    moment = from_micros(window.end_latest_us)
    lanes = {(s.lane, s.state) for s in api.state_at(engine, svc, moment) if s.node == window.node}
    assert {lane for lane, _state in lanes} >= {"endpoints", "proxy", "lb", "pod", "node"}
    segments = api.timeline(engine, svc, nodes=[window.node])
    assert {s.node for s in segments} == {window.node}
    for lane in ("endpoints", "proxy", "lb"):
        mine = [s for s in segments if s.lane == lane]
        assert all(a.end_us == b.start_us for a, b in pairwise(mine))


def test_whatif_and_advice_through_the_api(engine: Engine) -> None:
    result = run(load_scenario("seed-3node"), seed=4)
    EventWriter(engine, derive=write_facts).write_all(result.observations)
    (svc,) = api.services(engine)
    advice = api.advise(engine, svc)
    assert advice.windows_before == len(api.windows(engine)) > 0
    assert advice.windows_after == 0 == len(api.whatif(engine, svc, advice.settings))
    assert api.whatif(engine, svc, WhatIf())  # as recorded, the races are there


def test_bulk_load_folds_like_the_plain_fold(engine: Engine) -> None:
    # PostgreSQL reads facts through Arrow and folds probe lanes as columns; the result must be
    # the plain row-by-row fold of the same facts (on SQLite both are the plain fold).
    from gapwatch.replay.fold import FoldState, fold
    from gapwatch.replay.load import iter_facts

    for seed in (1, 2):
        EventWriter(engine, derive=write_facts).write_all(
            run(load_scenario("aws-nlb"), seed=seed).observations
        )
    bulk = load_state(engine)
    with engine.connect() as conn:
        plain = fold(FoldState(), list(iter_facts(conn)))
    assert bulk.probes == plain.probes and bulk.seen == plain.seen
    assert bulk.endpoints == plain.endpoints and bulk.pods == plain.pods
    assert detect(bulk) == detect(plain)


def _context(engine: Engine) -> list[tuple[str, object]]:
    with engine.connect() as conn:
        query = "SELECT key, value FROM replay_state WHERE key LIKE 'ctx:%' ORDER BY key"
        return [(str(r[0]), r[1]) for r in conn.execute(text(query))]


def test_late_pod_and_node_facts_refresh_like_a_rebuild(engine: Engine) -> None:
    """Pods and Nodes recorded after everything else (a recorder that watched them late, an
    import in two parts): the refresh they trigger (every Service of the namespace or cluster,
    found from the projections' own list) gives a rebuild's rows and context."""
    observations = list(run(load_scenario("aws-nlb"), seed=5).observations)
    late = [o for o in observations if o.kind in ("Pod", "Node")]
    early = [o for o in observations if o.kind not in ("Pod", "Node")]
    assert late and early
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(early)
    projections.refresh(engine)
    before = _tables(engine)
    for i in range(0, len(late), 50):
        writer.write(late[i : i + 50])
        assert projections.refresh(engine) > 0
    incremental, context = _tables(engine), _context(engine)
    assert incremental != before  # the pods changed what replay found
    assert any(k.endswith(":horizon") for k, _v in context)
    projections.rebuild(engine)
    assert _tables(engine) == incremental
    assert _context(engine) == context
