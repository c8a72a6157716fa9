"""A node's kube-proxy metrics looks indexed in time order, carried on from its last index
(replay.sync_index.indexed): what syncs.index_looks gives of the lane after every batch of
looks appended, in and out of time order; through the store, a refresh reads only the looks
that came since and its rows equal a rebuild's."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections, sync_index, syncs
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, SyncLook
from gapwatch.replay.syncs import index_looks
from tests.replay import builders as b
from tests.replay.test_lane_order import _rows
from tests.replay.test_segment_tail import _health_history, _stored

_WHERE = ("c", "n1")
#: batches of looks' times (seconds) appended to one lane: equal times, late ones among them
_BATCHES = st.lists(st.lists(st.integers(0, 40), max_size=8), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(batches=_BATCHES, late=st.booleans())
def test_a_carried_index_is_the_whole_lanes(batches: list[list[int]], late: bool) -> None:
    """A lane grown batch by batch (its times rising, or drawn at random: late looks, equal
    times, ids rising as the fold's): after each batch `indexed` equals `index_looks` of the
    whole lane, its looks the lane itself exactly where `index_looks` gives the lane as it is
    (an empty lane: none is in the state)."""
    state = FoldState()
    lane: list[SyncLook] = []
    eid = top = 0
    for batch in batches:
        for t in batch:
            eid += 1
            top = top + t if not late else t
            lane.append(SyncLook(top, top - 1, None, eid))
        if lane:
            state.syncs[_WHERE] = lane
        got, want = sync_index.indexed(state, _WHERE), index_looks(lane)
        assert (list(got.looks), list(got.times)) == (list(want.looks), list(want.times))
        assert not lane or (got.looks is lane) == (want.looks is lane)


def test_a_lane_replaced_is_read_anew() -> None:
    """A lane that is another list than the one indexed is read whole, not carried on."""
    state = FoldState()
    state.syncs[_WHERE] = [SyncLook(5, 4, None, 1), SyncLook(1, 0, None, 2)]
    assert list(sync_index.indexed(state, _WHERE).times) == [1, 5]
    state.syncs[_WHERE] = [SyncLook(7, 6, None, 3)] * 3
    assert list(sync_index.indexed(state, _WHERE).times) == [7, 7, 7]


@pytest.mark.parametrize("late", [False, True])
def test_a_refresh_indexes_only_the_new_looks(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, late: bool
) -> None:
    """A node probed 100 times and its kube-proxy scraped 300 times, refreshed twice from the
    checkpoint with a probe and two scrapes more: no refresh asks `index_looks` of a list of
    300 looks or more (F, the proxy lane's segments read the index carried on), and the
    windows, rollouts, lags and segments equal a rebuild's (SQLite and PostgreSQL); with
    `late`, the second refresh brings a scrape before the lane's last (indexed whole again,
    correctly). Before: every refresh indexed the node's whole lane."""
    writer = EventWriter(engine, derive=write_facts)
    history = _health_history(100)
    writer.write_all(history + [b.proxy_metrics(1 + i, "n1", None) for i in range(300)])
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    modules = [syncs] + [
        m
        for name, m in sorted(sys.modules.items())
        if name.startswith("gapwatch.replay.") and m is not syncs and hasattr(m, "index_looks")
    ]
    seen = b.counted(modules, "index_looks", monkeypatch.setattr)
    writer.write(
        [b.health(202, 200, "n1", 1), *(b.proxy_metrics(t, "n1", None) for t in (301, 302))]
    )
    assert projections.refresh(engine, checkpoint=cp) == 3
    assert all(n < 300 for n in seen), seen
    writer.write([b.health(204, 202, "n1", 0), b.proxy_metrics(150.5 if late else 303, "n1", None)])
    assert projections.refresh(engine, checkpoint=cp) == 2
    if not late:
        assert all(n < 300 for n in seen), seen
    refreshed = _rows(engine), _stored(engine)
    projections.rebuild(engine)
    assert (_rows(engine), _stored(engine)) == refreshed
