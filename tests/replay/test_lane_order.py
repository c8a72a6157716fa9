"""A probe lane's time order carried on from its last read (replay.lane_order.in_time): what
fold.sorted_lane gives of the lane, reading only the samples appended since, for lanes in and
out of time order; through the store, a late lane's refresh sorts no whole lane and the rows
equal a rebuild's."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import detect, lane_order, observed, projections, segment_tail, suffix
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, Sample, sorted_lane
from gapwatch.replay.model import ServiceRef
from tests.replay import builders as b
from tests.replay.test_late_lane_order import _late
from tests.replay.test_rebuild_retained import ROWS
from tests.replay.test_segment_tail import _health_history, _stored

_SVC = ServiceRef("c", "ns", "s")
#: batches of (time, value) samples appended to one lane: equal times, late ones among them
_BATCHES = st.lists(
    st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["200", "503"])), max_size=8),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(batches=_BATCHES, late=st.booleans())
def test_a_carried_order_is_the_whole_lanes(
    batches: list[list[tuple[int, str]]], late: bool
) -> None:
    """A lane grown batch by batch (its times rising, or drawn at random: late samples, equal
    times, ids rising as the fold's): after each batch `in_time` equals `sorted_lane` of the
    whole lane, and is the lane itself exactly where `sorted_lane` gives it as it is."""
    state = FoldState()
    lane: list[Sample] = []
    eid = 0
    top = 0
    for batch in batches:
        for t, value in batch:
            eid += 1
            top = top + t if not late else t
            lane.append(Sample(top, None, value, eid))
        if not lane:
            assert lane_order.in_time(state, "health", _SVC, "n1") == []
            continue
        state.probes["health"][(_SVC, "n1")] = lane
        got, want = lane_order.in_time(state, "health", _SVC, "n1"), sorted_lane(lane)
        assert got == want
        assert (got is lane) == (want is lane)


def test_a_lane_replaced_is_read_anew() -> None:
    """A lane that is another list than the one read (the fold dropped it and began another,
    replay.shortcircuit) is read whole, not carried on from the old one's entry."""
    state = FoldState()
    state.probes["health"][(_SVC, "n1")] = [Sample(5, None, "200", 1), Sample(1, None, "503", 2)]
    assert [s.at_us for s in lane_order.in_time(state, "health", _SVC, "n1")] == [1, 5]
    state.probes["health"][(_SVC, "n1")] = [Sample(7, None, "200", 3)] * 3
    assert [s.at_us for s in lane_order.in_time(state, "health", _SVC, "n1")] == [7, 7, 7]


def _rows(engine: Engine) -> dict[str, Counter[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            t: Counter(tuple(r) for r in conn.execute(text(f"SELECT {cols} FROM {t}")))
            for t, (cols, _at) in ROWS.items()
        }


@pytest.mark.parametrize("late_again", [False, True])
def test_a_late_lane_is_not_sorted_whole_by_a_refresh(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, late_again: bool
) -> None:
    """A health-check lane of 400 changes with two late answers (out of time order for good),
    refreshed twice with 3 more after its end: neither refresh asks `sorted_lane` of a list
    of 100 samples or more (the suffix's floors, `observed`, the target polls in
    `windows_from`, the segments' cut read the lane carried on), and the windows, rollouts,
    lags and segments equal a rebuild's (SQLite and PostgreSQL); with `late_again`, the
    second refresh brings a sample before the lane's last changes (sorted whole again,
    correctly). Before: each refresh sorted the whole lane in the suffix and `observed`."""
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(_late(_health_history(400)))
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    modules = [lane_order, suffix, observed, detect, segment_tail]
    seen = b.counted(modules, "sorted_lane", monkeypatch.setattr)
    writer.write([b.health(810, 802, "n1", 1), b.health(812, 810, "n1", 0)])
    assert projections.refresh(engine, checkpoint=cp) == 2
    assert cp.state is not None
    lane = next(iter(cp.state.probes["health"].values()))
    assert sorted_lane(lane) is not lane  # out of time order
    assert all(n < 100 for n in seen), seen
    writer.write([b.health(700 if late_again else 816, None, "n1", 1)])
    assert projections.refresh(engine, checkpoint=cp) == 1
    assert all(n < 100 for n in seen), seen
    refreshed = _rows(engine), _stored(engine)
    projections.rebuild(engine)
    assert (_rows(engine), _stored(engine)) == refreshed
