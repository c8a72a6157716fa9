"""The health-check lane `unseen.excursions` reads (where kube-proxy synced an unseen loss, and
whether a bad look got no answer), in time order carried on from its last ordering
(replay.lane_order.in_time) instead of checked whole on every find: a late answer that places
an unseen excursion's sync moves the gap as on a fresh fold, and the benchmark's metrics rounds
sort no health-check lane whole."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest

from benchmarks import replay as bench
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine
from gapwatch.replay import fold as fold_mod
from gapwatch.replay import lane_order, projections, unseen
from gapwatch.replay.assumptions import US
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.fold import FoldState, fold, sorted_lane
from gapwatch.replay.model import ServiceRef
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


@pytest.mark.postgres
def test_the_benchmarks_rounds_sort_no_health_lane_whole(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/replay.py's store, small (8 Services on 20 nodes), refreshed from the
    checkpoint with three of benchmarks/refresh_rounds.py's metrics rounds (each node's health
    check answering 503 and 200 ten times a round): no round asks `fold.sorted_lane` of a
    health-check lane (the probed Service's 20 moved nodes read theirs carried on), and the rows
    and segments equal a rebuild's after each. Before (main): `excursions` sorted 200 health
    lanes whole over the three rounds, each of the probed Service's 20 nodes' once a round (24
    to 66 samples, growing) and 140 of the other Services' nodes (4-6)."""
    bench.build(pg_url, 8, 20, 20_000, 20)
    engine = make_engine(pg_url)
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    engine.dispose()
    assert cp.state is not None
    health = cp.state.probes["health"]
    whole: list[int] = []
    plain = fold_mod.sorted_lane

    def counted(samples: list[fold_mod.Sample]) -> list[fold_mod.Sample]:
        if any(samples is lane for lane in health.values()):
            whole.append(len(samples))
        return plain(samples)

    for module in (unseen, lane_order):
        if hasattr(module, "sorted_lane"):
            monkeypatch.setattr(module, "sorted_lane", counted)
    for k in range(3):
        bench.incremental(pg_url, k, cp, metrics_every_s=300)
        engine = make_engine(pg_url)
        # (Counter: `_stored` orders by node, lane and seq, which 8 Services share)
        rows = _rows(engine), Counter(_stored(engine))
        projections.rebuild(engine, checkpoint=Checkpoint())
        assert (_rows(engine), Counter(_stored(engine))) == rows
        engine.dispose()
    assert whole == []
