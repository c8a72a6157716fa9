"""A refresh inside an unended not-ready endpoints stretch (replay.suffix._eps_floor): once a
bad look is there, the moved node is re-detected from the new samples' look-back, not from
the stretch's start, and the result is what a rebuild gives. Literal observations
(tests/replay/builders.py shapes): n1's only pod is gone at 50 s and its endpoints stay `none`
to the end, while its NodePort keeps answering but for a timeout every 3,000 s (a window
each, the LB still routing to it)."""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Callable

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay import suffix
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import AT_US, FoldState, Sample, fold, lb_facing
from gapwatch.replay.model import Window
from gapwatch.replay.unseen import bad_looks
from tests.replay import builders
from tests.replay.builders import at, eps, facts_of, health, node, nodeport, pod, service, target

GONE = 50.0  # n1's pod gone, its endpoints `none` from here on
EVERY = 3000.0  # a blip (NodePort timeout, no health answer) at 300 s, 3,300 s, ...
END = 18000.0


def _blips(t: float) -> bool:
    return t % EVERY in (300.0, 310.0)


def _history(
    bad: Callable[[float], bool] = _blips, ready_again: float | None = None
) -> list[Observation]:
    """n1 and n2 probed every 10 s, their LB targets polled every 20 s (always healthy); n1's
    pod gone at `GONE`, a new one ready at `ready_again` when given."""
    obs = [service(0), node(0, "n1"), node(0, "n2"), pod(1, "p1", "n1", "ready")]
    obs += [pod(1, "p2", "n2", "ready"), eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready")])]
    obs += [pod(GONE, "p1", "n1", "gone"), eps(GONE, [("p2", "n2", "ready")])]
    if ready_again is not None:
        obs.append(pod(ready_again, "p3", "n1", "ready"))
        obs.append(eps(ready_again, [("p3", "n1", "ready"), ("p2", "n2", "ready")]))
    prev = None
    for i in range(1, int(END / 10)):
        t = 10.0 * i
        down = bad(t)
        obs.append(nodeport(t, prev, "n1", "timeout" if down else "connected"))
        obs += [health(t, prev, "n1", None if down else 1), nodeport(t, prev, "n2", "connected")]
        if i % 2 == 0:
            polled = t - 20 if t > 20 else None
            obs += [target(t, polled, "n1", "healthy"), target(t, polled, "n2", "healthy")]
        prev = t
    return sorted(obs, key=lambda o: o.observed_at)


def _refreshed(
    cut: float, history: list[Observation]
) -> tuple[list[Window], list[Window], list[Window]]:
    return builders.refreshed_at(history, cut)


def _kept(before: list[Window], after: list[Window]) -> int:
    return sum(any(w is old for old in before) for w in after)


def test_the_history_is_one_unended_stretch_with_a_window_a_blip() -> None:
    state = fold(FoldState(), facts_of(_history()))
    (svc,) = lb_facing(state)
    assert state.endpoints[(svc, "n1")][-1].value == "none"
    windows = [w for w in detect(state, [svc], DEFAULTS) if w.node == "n1"]
    assert len(windows) == END / EVERY
    assert all(w.start_us > to_micros(at(GONE)) for w in windows)


@pytest.mark.parametrize("cut", [9400.0, 12100.0, 15000.0])
def test_a_refresh_inside_the_stretch_keeps_the_windows_before_its_look_back(cut: float) -> None:
    """On the code before, the floor was the stretch's first sample (50 s): every window of
    n1 was found again (none kept)."""
    before, after, rebuilt = _refreshed(cut, _history())
    assert after == rebuilt
    ours = [w for w in before if w.node == "n1"]
    # the look-back is 1,383 s here, twice over: those ending 2,800 s before the cut stand
    old = [w for w in ours if w.end_latest_us < to_micros(at(cut - 2800))]
    assert old and _kept(ours, after) >= len(old)


@pytest.mark.parametrize("cut", [2000.0, 9400.0, 15000.0])
def test_a_first_bad_look_in_the_stretch_moves_what_was_found_before_it(cut: float) -> None:
    """No bad look in the stretch up to the cut (the blips begin after it): the unended down
    period `unseen.hidden` reads hides a gap, a window open at the end of the data; the first
    bad look after the cut drops that period (the looks saw it), so the refresh must drop the
    window too (R or F moved before the instant: `reusable`, the whole history again)."""
    history = _history(lambda t: t > cut and _blips(t))
    before, after, rebuilt = _refreshed(cut, history)
    assert after == rebuilt
    (open_,) = [w for w in before if w.node == "n1"]
    assert open_.end_latest_us == to_micros(at(cut))
    assert all(w.start_us > to_micros(at(cut)) for w in after if w.node == "n1")


def test_the_stretch_ended_by_a_new_sample_is_read_from_its_start() -> None:
    """A new endpoints sample (a pod ready again on n1) ends the stretch: what a window reads
    forward of a loss (undecided.lb_excursion) moves, so the floor is the stretch's start."""
    cut, back = 15000.0, 16000.0
    before, after, rebuilt = _refreshed(cut, _history(ready_again=back))
    assert after == rebuilt
    assert not _kept([w for w in before if w.node == "n1"], after)


def test_the_endpoints_floor_moves_only_where_the_stretch_is_decided() -> None:
    """suffix._eps_floor on the lanes themselves: inside the unended stretch with a bad look
    since its last sample the floor is the instant; the lane grown, or no bad look, the
    stretch's first sample's look."""
    state = fold(FoldState(), facts_of(_history()))
    (svc,) = lb_facing(state)
    lane = state.endpoints[(svc, "n1")]
    probes = [state.probes[k].get((svc, "n1"), []) for k in ("nodeport", "health", "target")]
    x = to_micros(at(10000.0))
    start = lane[-1].at_us
    assert suffix._eps_floor(lane, x, False, probes) == x
    assert suffix._eps_floor(lane, x, True, probes) == start
    assert suffix._eps_floor(lane, x, False, [p[:0] for p in probes]) == start


def test_a_bad_run_begun_before_the_stretchs_last_sample_is_a_bad_look_in_it() -> None:
    """A lane keeps its changes only: a timeout run that began before the endpoints' last
    sample and outlasted it was last seen at the next sample's previous look
    (unseen.bad_looks), inside the stretch; a run that ended before it is not."""
    lane = [Sample(10, None, "ready", 1, 1), Sample(50, None, "none", 2, 0)]

    def probe(bad_at: int, good_at: int, last_bad_look: int) -> list[Sample]:
        return [
            Sample(5, None, "connected", 3, 0),
            Sample(bad_at, 5, "timeout", 4, 0),
            Sample(good_at, last_bad_look, "connected", 5, 0),
        ]

    assert suffix._eps_floor(lane, 1000, False, [probe(40, 70, 60)]) == 1000
    assert suffix._eps_floor(lane, 1000, False, [probe(40, 49, 45)]) == 50
    assert suffix._eps_floor(lane, 1000, False, [probe(1200, 1300, 1250)]) == 50


def test_the_bad_look_inside_the_stretch_is_searched_from_the_instant_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A node down since long before (its endpoints' last sample at 50) whose NodePort lane
    changed 20,000 times since: the floor asks whether a look saw a bad value between that
    sample and the instant, and stops at the newest one before the instant instead of reading
    the lane from 50 on (the refresh's cost grew with the stretch's length)."""
    lane = [Sample(10, None, "ready", 1, 1), Sample(50, None, "none", 2, 0)]
    probe = [
        Sample(100 + 10 * k, 100 + 10 * k - 5, "timeout" if k % 2 else "connected", 3 + k, 0)
        for k in range(20_000)
    ]
    read: list[str] = []

    def counted(value: str) -> bool:
        read.append(value)
        return value not in ("connected", "200", "healthy")

    monkeypatch.setattr(suffix, "_bad", counted)
    x = probe[-100].at_us
    assert suffix._eps_floor(lane, x, False, [probe]) == x
    assert len(read) <= 4


def test_the_backward_search_finds_what_bad_looks_finds() -> None:
    """suffix._bad_look_within against unseen.bad_looks of the samples around [lo, hi) on
    random lanes (runs, repeats, looks with and without a previous look), a refused look read
    as no bad one (the health lane's excursions read it so: replay.lanes `_closed_answer`)."""
    rng = random.Random(27)
    values = ["connected", "timeout", "refused", "200", "healthy", "unhealthy"]
    for _ in range(3000):
        t, lane = 0, []
        for k in range(rng.randint(0, 12)):
            t += rng.randint(1, 5)
            prev = rng.choice([None, t - rng.randint(0, 3)])
            lane.append(Sample(t, prev, rng.choice(values), k, 0))
        lo, hi = sorted(rng.randint(-2, t + 3) for _ in range(2))
        i = max(bisect_left(lane, lo, key=AT_US) - 1, 0)
        j = bisect_left(lane, hi, key=AT_US) + 1
        bad = bad_looks(lane[i:j], lambda v: v not in ("connected", "200", "healthy", "refused"))
        assert suffix._bad_look_within(lane, lo, hi) == any(lo <= s < hi for s in bad)
