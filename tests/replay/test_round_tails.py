"""Two passes over a moved node's whole lane on every find, carried on from its last find
instead (refresh round 9): the health-check lane `unseen.excursions` reads (where kube-proxy
synced an unseen loss, and whether a bad look got no answer) in time order
(replay.lane_order.in_time), and whether the NodePort lane holds a refused look
(node_cache.readings_read, from F's reason times' trail: replay.lane_tail.times). A late
answer that places an unseen excursion's sync moves the gap as on a fresh fold; a carried
trail reads as the whole lane; the benchmark's metrics rounds read neither lane whole."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import replay as bench
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine
from gapwatch.replay import fold as fold_mod
from gapwatch.replay import lane_order, lane_tail, node_cache, projections, unseen
from gapwatch.replay.assumptions import US
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.fold import FoldState, Sample, fold, sorted_lane
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import REFUSED
from gapwatch.replay.unseen import Unseen, excursions
from tests.replay import builders as b
from tests.replay.test_lane_order import _rows
from tests.replay.test_segment_tail import _stored

_SVC = ServiceRef(b.CLUSTER, b.NS, b.SVC)


def _history() -> list[Observation]:
    """`builders.unseen_excursion` (no ready endpoint on n1 from 30 to 32 s, which no NodePort
    look saw) with the health check answering 200 at 1 s (one local endpoint) and 60 s (two)."""
    return [*b.unseen_excursion(1), b.health(1, None, "n1", 1), b.health(60, 1, "n1", 2)]


#: late answers of the health check inside the excursion, stored after the 60 s one: 503
#: counting none at 31 s (kube-proxy synced the loss), 200 at 31.5 s (the return programmed)
_LATE = [b.health(31, 1, "n1", 0), b.health(31.5, 31, "n1", 1)]


def _excursions(state: FoldState) -> Unseen:
    """The node's unseen excursions as F's NodePort lane reads them (lanes.serves_carried's
    call, the gate not known on, a 10 s probe period, a 2 s kube-proxy lag)."""
    ports = sorted_lane(state.probes["nodeport"][(_SVC, "n1")])
    return excursions(
        state, _SVC, "n1", ports, lambda v: v != "connected", 2 * US, False, 0, 10 * US
    )


def _folded(observations: Sequence[Observation]) -> FoldState:
    return fold(FoldState(), b.facts_of(observations))


def test_a_late_answer_moves_the_gap_as_on_a_fresh_fold() -> None:
    """Folded without the late answers, the excursion's gap ends at the return plus the lag;
    the late 503 and 200 folded into the same state (the lane now out of time order) end it
    at the 200, as a fresh fold of everything does. Seen failing with the order as first
    found kept for the lane whatever was appended (the gap not moved)."""
    state = _folded(_history())
    before = _excursions(state)
    assert before == _excursions(_folded(_history()))
    fold(state, b.facts_of([*_history(), *_LATE])[len(b.facts_of(_history())) :])
    lane = state.probes["health"][(_SVC, "n1")]
    assert sorted_lane(lane) is not lane  # out of time order for good
    after = _excursions(state)
    assert after == _excursions(_folded([*_history(), *_LATE]))
    assert after != before and after.gaps[0].end < before.gaps[0].end


_VALUES = st.sampled_from(["connected", "timeout", "refused", "reset", "DROP"])


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(_VALUES, max_size=6), min_size=1, max_size=8))
def test_the_carried_times_trail_reads_as_the_whole_lane(batches: list[list[str]]) -> None:
    """A lane grown batch by batch (the same list, appended to): after each batch the carried
    times and `refused` are those of the whole lane read afresh. Seen failing with the trail's
    `refused` not updated from the appended samples."""
    lane: list[Sample] = []
    trail = None
    for batch in batches:
        lane += [Sample(len(lane) + i, None, v, len(lane) + i) for i, v in enumerate(batch)]
        times, trail = lane_tail.times(lane, trail)
        assert times == [s.at_us for s in lane]
        assert trail.refused == any(s.value in REFUSED for s in lane)
        assert trail.refused == lane_tail.times(lane)[1].refused


@pytest.mark.postgres
def test_the_benchmarks_rounds_read_no_lane_whole(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/replay.py's store, small (8 Services on 20 nodes), refreshed from the
    checkpoint with three of benchmarks/refresh_rounds.py's metrics rounds (each node's health
    check answering 503 and 200 and its NodePort timing out and connecting ten times a round):
    no round asks `fold.sorted_lane` of a health-check lane or `lane_tail.refused` of a
    NodePort lane (the moved nodes read the samples appended since their last find), and the
    rows and segments equal a rebuild's after each. Before (main): `excursions` sorted 200
    health lanes whole over the three rounds, each of the probed Service's 20 nodes' once a
    round (24 to 66 samples, growing) and 140 of the other Services' nodes' (4-6), and
    `readings_read` scanned each moved node's NodePort lane whole (main has no
    `lane_tail.refused`: the test fails there at its patch)."""
    bench.build(pg_url, 8, 20, 20_000, 20)
    engine = make_engine(pg_url)
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    engine.dispose()
    assert cp.state is not None
    lanes = cp.state.probes
    whole: list[tuple[str, int]] = []
    plain, scan = fold_mod.sorted_lane, lane_tail.refused

    def counted(samples: list[Sample]) -> list[Sample]:
        if any(samples is lane for lane in lanes["health"].values()):
            whole.append(("health", len(samples)))
        return plain(samples)

    def scanned(samples: list[Sample]) -> bool:
        if any(samples is lane for lane in lanes["nodeport"].values()):
            whole.append(("nodeport", len(samples)))
        return scan(samples)

    for module in (unseen, lane_order):
        if hasattr(module, "sorted_lane"):
            monkeypatch.setattr(module, "sorted_lane", counted)
    for module in (lane_tail, node_cache):
        monkeypatch.setattr(module, "refused", scanned)
    for k in range(3):
        bench.incremental(pg_url, k, cp, metrics_every_s=300)
        engine = make_engine(pg_url)
        # (Counter: `_stored` orders by node, lane and seq, which 8 Services share)
        rows = _rows(engine), Counter(_stored(engine))
        projections.rebuild(engine, checkpoint=Checkpoint())
        assert (_rows(engine), Counter(_stored(engine))) == rows
        engine.dispose()
    assert whole == []
