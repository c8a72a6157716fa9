"""What a node's kube-proxy metrics looks stated (the gate values, the latest process start),
carried on from its last read (replay.sync_seen): what `stated` gives of the whole lane after
every batch of looks appended; through the store, a refresh reads none of a node's metrics
lane whole (the gate, the restarts and the indexes carried on) and its rows equal a
rebuild's."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections, sync_seen
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, SyncLook
from tests.replay import builders as b
from tests.replay.test_lane_order import _rows
from tests.replay.test_segment_tail import _health_history, _stored
from tests.replay.test_sync_count import scrape

_WHERE = ("c", "n1")
#: batches of looks: (the gate stated: None, off, on; the process start: none, 0, a time)
_LOOKS = st.lists(
    st.lists(
        st.tuples(st.sampled_from([None, False, True]), st.sampled_from([None, 0, 5, 9, 7])),
        max_size=6,
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(batches=_LOOKS)
def test_what_a_carried_lane_stated_is_the_whole_lanes(
    batches: list[list[tuple[bool | None, int | None]]],
) -> None:
    """A lane grown batch by batch: after each batch `seen` equals `stated` of the whole lane
    (an empty lane: none is in the state, nothing stated)."""
    state = FoldState()
    lane: list[SyncLook] = []
    for batch in batches:
        for gate, process in batch:
            n = len(lane) + 1
            lane.append(SyncLook(n, n - 1, None, n, process_us=process, pte_gate=gate))
        if lane:
            state.syncs[_WHERE] = lane
        assert sync_seen.seen(state, _WHERE) == sync_seen.stated(lane)


def test_a_lane_replaced_is_read_anew() -> None:
    """A lane that is another list than the one read is read whole, not carried on."""
    state = FoldState()
    state.syncs[_WHERE] = [SyncLook(1, 0, None, 1, process_us=4, pte_gate=True)]
    assert sync_seen.seen(state, _WHERE) == sync_seen.Seen(frozenset({True}), 1, 4)
    state.syncs[_WHERE] = [SyncLook(2, 1, None, 2, process_us=3, pte_gate=False)] * 2
    assert sync_seen.seen(state, _WHERE) == sync_seen.Seen(frozenset({False}), 2, 3)


class _Watched(list[Any]):
    """The fold's list of a node's looks, noting each pass over all of it (an iteration: a
    slice of the new looks, an index or a bisection is none)."""

    def __init__(self, items: list[Any]) -> None:
        super().__init__(items)
        self.whole: list[int] = []

    def __iter__(self) -> Any:
        self.whole.append(len(self))
        return super().__iter__()


def _scrapes(first: int, n: int) -> list[Observation]:
    """n1's kube-proxy scraped every second from `first`: its rules-sync count (one sync
    every other look, so both quiet and unbegun spans) and, every third look, its
    ProxyTerminatingEndpoints gate metric (on)."""
    out = []
    for t in range(first, first + n):
        out.append(scrape(t, t - 1 - t % 2, 1 + t // 2, 0.01 * (1 + t // 2), counted=True))
        if t % 3 == 0:
            out.append(b.proxy_metrics(t + 0.5, "n1", True))
    return out


@pytest.mark.parametrize("late", [False, True])
def test_a_refresh_reads_no_metrics_lane_whole(engine: Engine, late: bool) -> None:
    """A node probed 100 times and its kube-proxy scraped 400 times (sync counts, the gate
    metric), refreshed from the checkpoint three times with a probe and scrapes more: after
    the first (the lane is another list from then: read anew), neither refresh iterates over
    the node's whole metrics lane (the gate, `gate_stated` per node and per cluster, and the
    indexes read it carried on), and the windows, rollouts, lags and segments equal a
    rebuild's after each; with `late`, the last refresh brings a scrape before the lane's last
    (the index sorts the whole lane again, as `index_looks` does: the rows still equal). Before:
    `gate_stated` read every look of the node, on every refresh."""
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(_health_history(100) + _scrapes(1, 300))
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    assert cp.state is not None
    (where,) = cp.state.syncs
    lane = cp.state.syncs[where] = _Watched(cp.state.syncs[where])

    def refreshed(*new: Observation) -> None:
        writer.write(list(new))
        assert projections.refresh(engine, checkpoint=cp) == len(new)
        rows = _rows(engine), _stored(engine)
        projections.rebuild(engine, checkpoint=Checkpoint())
        assert (_rows(engine), _stored(engine)) == rows

    refreshed(b.health(202, 200, "n1", 1), *_scrapes(301, 2))
    lane.whole.clear()
    refreshed(b.health(204, 202, "n1", 0), *_scrapes(303, 3))
    assert lane.whole == []
    later = [scrape(150.3, 148, 75, 0.75, counted=True)] if late else _scrapes(307, 1)
    refreshed(b.health(206, 204, "n1", 1), *later)
    assert late or lane.whole == []
