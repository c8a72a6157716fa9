"""A probe lane out of time order (a late sample slotted in) read by a refresh: its samples
from the refresh's cut on, in the order the whole lane's sort gives them, without sorting the
whole lane again (replay.segment_tail.from_cut; fold.sorted_lane's key in C)."""

from __future__ import annotations

from bisect import bisect_left

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections, segment_tail
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import AT_US, Sample, sorted_lane
from tests.replay import builders as b
from tests.replay.test_segment_tail import _health_history, _stored

_LANES = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(["200", "503"])), min_size=1, max_size=60
)


def _lane(drawn: list[tuple[int, str]], ids: list[int]) -> list[Sample]:
    return [Sample(t, None, v, i) for (t, v), i in zip(drawn, ids, strict=True)]


@settings(max_examples=300, deadline=None)
@given(drawn=_LANES, data=st.data())
def test_sorted_lane_orders_by_time_then_id(
    drawn: list[tuple[int, str]], data: st.DataObject
) -> None:
    """Random lanes, equal times among them, ids in any order: sorted_lane gives them by
    (time, id), and an ordered lane itself."""
    ids = data.draw(st.permutations(range(len(drawn))))
    lane = _lane(drawn, list(ids))
    ordered = sorted_lane(lane)
    assert ordered == sorted(lane, key=lambda s: (s.at_us, s.event_id)) or (
        ordered is lane and [s.at_us for s in lane] == sorted(s.at_us for s in lane)
    )


@settings(max_examples=300, deadline=None)
@given(drawn=_LANES, cut=st.integers(-1, 31), data=st.data())
def test_the_samples_from_a_cut_are_the_whole_sorts(
    drawn: list[tuple[int, str]], cut: int, data: st.DataObject
) -> None:
    """Random lanes in and out of time order, equal times among them: the samples from a cut
    on are the whole lane's sort's from that cut on, in its order."""
    ids = data.draw(st.permutations(range(len(drawn))))
    lane = _lane(drawn, list(ids))
    ordered = sorted_lane(lane)
    assert segment_tail.from_cut(lane, cut) == ordered[bisect_left(ordered, cut, key=AT_US) :]


def _late(history: list[Observation]) -> list[Observation]:
    """The history with two late health-check answers arriving after all of it: one between
    two changes, one at a change's own time (equal times, a later id)."""
    return [*history, b.health(101, None, "n1", 1), b.health(200, None, "n1", 1)]


def test_a_late_lane_refresh_sorts_from_its_cut_only(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A health-check lane of 400 changes and two late answers, refreshed with 3 more (one of
    them late again, before the lane's last changes): the proxy lane is not sorted whole,
    and the stored rows equal a rebuild (SQLite and PostgreSQL). Before: each refresh sorted
    the lane's 400-odd samples (sorted_lane of the whole lane)."""
    history = _late(_health_history(400))
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(history)
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    seen = b.counted([segment_tail], "sorted_lane", monkeypatch.setattr)
    writer.write(
        [
            b.health(795, None, "n1", 1),
            b.health(802, 800, "n1", 1),
            b.health(804, 802, "n1", 0),
        ]
    )
    assert projections.refresh(engine, checkpoint=cp) == 3
    assert cp.state is not None
    lane = next(iter(cp.state.probes["health"].values()))
    assert sorted_lane(lane) is not lane  # out of time order
    assert all(n < 100 for n in seen), seen
    refreshed = _stored(engine)
    projections.rebuild(engine)
    assert _stored(engine) == refreshed
