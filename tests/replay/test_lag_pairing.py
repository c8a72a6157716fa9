"""replay.lags: a node's lags carried on as its probe or LB poll lane grows (`lags.paired`)
are what the whole lane gives, and a refresh reads only the lane's new samples."""

from __future__ import annotations

import random
from functools import partial

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.replay import lags, signals
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.fold import FoldState, Sample, fold, lb_facing, sorted_lane
from gapwatch.replay.model import ServiceRef
from tests.replay import builders

SVC = ServiceRef("c1", "ns", "gw")
NAMES: list[str | tuple[str, str]] = ["kube-proxy-programming", ("ccm-deregister", "ccm-register")]


def _grown(rng: random.Random, lane: list[Sample], n: int) -> None:
    """`n` samples appended, mostly after the last one, a few late (they slot in)."""
    at = lane[-1].at_us if lane else rng.randrange(-20, 20)
    for _ in range(n):
        late = rng.random() < 0.04
        step = -rng.randrange(1, 30) if late else rng.choice((0, 1, 1, 3, 7, 20))
        at += step
        prev = None if rng.random() < 0.3 else at - rng.randrange(0, 12)
        value = rng.choice(("200", "200", "503", "healthy", "unhealthy"))
        lane.append(Sample(at, prev, value, rng.randrange(1000)))
        if late:
            at -= step


def _changes(rng: random.Random, n: int, start: int) -> list[tuple[int, bool]]:
    at, out = start, []
    for _ in range(n):
        at += rng.randrange(0, 40)
        out.append((at, rng.random() < 0.5))
    return out


def test_carried_on_equals_whole() -> None:
    """Random lanes grown 5 times (a few samples late, some rounds with new endpoint changes)
    against the same lane paired whole: every lag, the open changes and the signal's value."""
    rng = random.Random(29)
    for _ in range(2500):
        lane: list[Sample] = []
        changes = _changes(rng, rng.choice((0, 1, 3, 10, 40)), 0)
        true = rng.choice(("200", "healthy"))
        name = rng.choice(NAMES)
        window = rng.choice((5, 30, 200))
        was = None
        for _round in range(5):
            _grown(rng, lane, rng.choice((0, 1, 2, 5, 30, 100)))
            if rng.random() < 0.15:
                changes = changes + _changes(rng, 2, changes[-1][0] if changes else 0)
            got = lags.paired(lane, true, changes, name, SVC, "n1", window, was)
            whole = lags.paired(list(lane), true, changes, name, SVC, "n1", window)
            assert (got.found, got.open, got.current) == (whole.found, whole.open, whole.current)
            was = got


def _history(until: float) -> list[Observation]:
    """builders.one_node's n1 with its pod not ready from 30 s to 60 s, its health check
    answering every second, 200 with the pod ready and 503 while not (a lag each way)."""
    out = [*builders.one_node()]
    out.append(builders.eps(30, [("p1", "n1", "unready")]))
    out.append(builders.eps(60, [("p1", "n1", "ready")]))
    for t in range(2, int(until)):
        out.append(builders.health(t, t - 1, "n1", 0 if 31 <= t <= 61 else 1))
    return out


def _read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The samples every steps_where call reads (lags' own name and signals' global)."""
    return builders.counted(
        [signals, lags], "steps_where", partial(monkeypatch.setattr, raising=False)
    )


def _read_a_round(
    monkeypatch: pytest.MonkeyPatch, history: list[Observation], in_order: bool
) -> list[int]:
    """n1's health lane after `history` grown by 200 looks a round (100 changes of 503/200
    from the pod's flapping) over 5 rounds: the samples each round's lags read, each round's
    lags equal to a fresh state's (the lane in time order or not, as `in_order` says)."""
    flapping = [builders.health(t, t - 1, "n1", t % 2) for t in range(100, 1100)]
    rounds = builders.grown(history, flapping, 200, 5)
    state, _ = next(rounds)
    (svc,) = lb_facing(state)
    lags.node_lags(state, svc, DEFAULTS)
    lane = state.probes["health"][(svc, "n1")]
    assert (sorted_lane(lane) is lane) == in_order
    seen = _read(monkeypatch)
    per_round = []
    for state, folded in rounds:
        seen.clear()
        got = lags.node_lags(state, svc, DEFAULTS)
        per_round.append(sum(seen))
        assert got == lags.node_lags(fold(FoldState(), folded), svc, DEFAULTS)
        assert got["n1"]  # both of the pod's lags measured
    return per_round


def test_a_refresh_reads_the_new_health_looks_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The health lane is read 200 samples a round, not whole (on the code before: 204, 404,
    ... 1,004)."""
    assert _read_a_round(monkeypatch, _history(100), True) == [200] * 5


def test_a_lane_out_of_order_reads_the_new_looks_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same node with one late health look (at 50.5 s, recorded after the look at 99 s):
    the lane is out of time order for good, and the rounds after it still read 200 samples
    each (on the code before: the whole lane sorted and read each round, 204, 404, ...
    1,004)."""
    late = builders.health(50.5, 50, "n1", 0)
    assert _read_a_round(monkeypatch, [*_history(100), late], False) == [200] * 5


def test_carried_on_out_of_order_equals_whole() -> None:
    """Random lanes that went out of time order early (a late sample), then grown 6 times,
    most rounds in order, some with late samples or samples at the last one's time (equal
    keys), against the same lane paired whole."""
    rng = random.Random(32)
    for _ in range(1500):
        lane: list[Sample] = []
        _grown(rng, lane, rng.choice((2, 5, 30)))
        lane.append(Sample(lane[0].at_us - 1, None, rng.choice(("200", "503")), 1000))
        changes = _changes(rng, rng.choice((1, 3, 10)), lane[0].at_us - 5)
        true, name, was = "200", rng.choice(NAMES), None
        for _round in range(6):
            if rng.random() < 0.2:
                last = max(lane, key=lambda s: (s.at_us, s.event_id))
                lane.append(Sample(last.at_us, None, rng.choice(("200", "503")), last.event_id))
            _grown(rng, lane, rng.choice((0, 1, 2, 5, 30)))
            got = lags.paired(lane, true, changes, name, SVC, "n1", 60, was)
            whole = lags.paired(list(lane), true, changes, name, SVC, "n1", 60)
            assert (got.found, got.open, got.current) == (whole.found, whole.open, whole.current)
            was = got
