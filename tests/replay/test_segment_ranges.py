"""Range reads of the segments projection equal filtering the full fold, on both backends.

`api.timeline(since, until, nodes)` and `api.state_at` read stored segments by time range; the
reference is what they did before: fold the Service's whole history
(`segments.lane_segments(load_state(...))`) and filter. Ranges start before, inside (mid-segment),
exactly at and after segments; the store is simulated (recorder.sim), incremental and rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.timefmt import from_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, projections, segment_store
from gapwatch.replay import segments as segments_mod
from gapwatch.replay.facts import write_facts
from gapwatch.replay.load import load_state
from gapwatch.replay.model import Segment, ServiceRef
from gapwatch.replay.projection_rows import bulk_insert
from gapwatch.replay.tables import replay_segments

S = 1_000_000


def _full(engine: Engine, svc: ServiceRef) -> list[Segment]:
    return segments_mod.lane_segments(load_state(engine, service=svc), svc)


def _expected(
    full: Sequence[Segment], lo: int | None, hi: int | None, nodes: Sequence[str] | None
) -> list[Segment]:
    keep = set(nodes) if nodes else None
    return [
        s
        for s in full
        if (keep is None or s.node in keep)
        and (lo is None or s.end_us is None or s.end_us > lo)
        and (hi is None or s.start_us < hi)
    ]


def _ranges(full: Sequence[Segment]) -> list[tuple[int | None, int | None]]:
    """Whole, open-ended, mid-segment, on a boundary, empty, inverted, past the end."""
    first = min(s.start_us for s in full)
    last = max(s.end_us or s.start_us for s in full)
    long = sorted(
        (s for s in full if s.end_us is not None), key=lambda s: s.start_us - (s.end_us or 0)
    )
    mids = [(s.start_us + s.end_us) // 2 for s in long[:3] if s.end_us is not None]
    a_start = full[len(full) // 2].start_us
    out: list[tuple[int | None, int | None]] = [
        (None, None),
        (first - S, None),
        (None, first + 30 * S),
        (a_start, a_start + 60 * S),  # starts exactly where a segment starts
        (a_start - 1, a_start),  # ends exactly there
        (a_start, a_start),  # empty
        (a_start + 5 * S, a_start),  # inverted
        (last + S, None),  # after everything: only the open segments
    ]
    out += [(m, m + 45 * S) for m in mids]  # mid-segment starts
    out += [(m, None) for m in mids[:1]]
    return out


def _check_ranges(engine: Engine, svc: ServiceRef) -> int:
    full = _full(engine, svc)
    assert full
    nodes = sorted({s.node for s in full})
    checked = 0
    for lo, hi in _ranges(full):
        for chosen in (None, nodes[:1], nodes[1:3], []):
            since = None if lo is None else from_micros(lo)
            until = None if hi is None else from_micros(hi)
            got = api.timeline(engine, svc, since=since, until=until, nodes=chosen)
            assert got == _expected(full, lo, hi, chosen), (lo, hi, chosen)
            checked += 1
    for s in full[:: max(1, len(full) // 15)]:
        for at in (s.start_us, s.start_us - 1, s.start_us + 1):
            assert api.state_at(engine, svc, from_micros(at)) == segments_mod.state_at(full, at)
    return checked


def test_ranges_equal_the_full_fold(engine: Engine) -> None:
    result = run(load_scenario("aws-nlb"), seed=3)
    EventWriter(engine, derive=write_facts).write_all(result.observations)
    projections.refresh(engine)
    (svc,) = api.services(engine)
    assert _check_ranges(engine, svc) > 40
    # a rollout page's range (the dashboard's first load) equals the full fold too
    rollout = api.rollouts(engine, service=svc)[0]
    lo, hi = rollout.start_us - 15 * S, rollout.end_us + 15 * S
    got = api.timeline(
        engine, svc, since=from_micros(lo), until=from_micros(hi), nodes=rollout.nodes
    )
    assert got and got == _expected(_full(engine, svc), lo, hi, rollout.nodes)


def test_ranges_stay_equal_under_incremental_refresh_and_rebuild(engine: Engine) -> None:
    observations = list(run(load_scenario("seed-3node"), seed=2).observations)
    writer = EventWriter(engine, derive=write_facts)
    step = len(observations) // 4 + 1
    kept: list[int] = []
    ids: set[int] = set()
    for i in range(0, len(observations), step):
        writer.write(observations[i : i + step])
        projections.refresh(engine)
        for svc in api.services(engine):
            _check_ranges(engine, svc)
        with engine.connect() as conn:
            now = set(conn.execute(text("SELECT id FROM replay_segments")).scalars())
        kept.append(len(ids & now))
        ids = now
    # a refresh rewrites the segments that changed, not the Service's history
    assert all(k > 0 for k in kept[1:])
    projections.rebuild(engine)
    (svc,) = api.services(engine)
    _check_ranges(engine, svc)


def test_a_lane_whose_earlier_segments_reach_past_since_is_read_whole(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out-of-order samples can leave a lane whose segments do not chain (an earlier one ends
    after a later one starts): the range read then falls back to that lane's earlier rows.
    (The per-lane probes are split into queries of 3 keys here, as many nodes would split them.)"""
    monkeypatch.setattr(segment_store, "KEYS_PER_QUERY", 3)
    svc = ServiceRef("c", "ns", "svc")

    def seg(node: str, start: int, end: int | None) -> Segment:
        return Segment(svc, node, "node", "Ready", start * S, None if end is None else end * S,
                       start * S, start * S, "measured", start)  # fmt: skip

    full = [
        seg("n1", 0, 50),  # reaches past n1's later starts
        seg("n1", 10, 20),
        seg("n1", 30, None),
        seg("n2", 0, 10),
        seg("n2", 10, 10),  # zero length
        seg("n2", 10, 40),
        seg("n2", 40, None),
    ]
    rows = segment_store.segment_rows(full)
    assert [r[-1] for r in rows][:3] == [None, 50 * S, 50 * S]  # reach_before_us
    with engine.begin() as conn:
        stale, new = segment_store.stale_and_new(conn, svc, rows)
        assert stale == [] and len(new) == len(full)
        bulk_insert(conn, replay_segments, new)
    with engine.connect() as conn:
        for lo in (None, *range(-1, 61, 3), 10, 30, 40, 50):
            for hi in (None, 5, 10, 25, 45, 100):
                for nodes in (None, ["n1"], ["n2"]):
                    lo_us = None if lo is None else lo * S
                    hi_us = None if hi is None else hi * S
                    got = segment_store.read_range(conn, svc, lo_us, hi_us, nodes)
                    assert got == _expected(full, lo_us, hi_us, nodes), (lo, hi, nodes)
