"""replay.lane_tail: a probed F's steps and Tri carried on as its lane grows are what the whole
lane gives (signals.steps_from_samples, tri_from_steps), and a refresh of F (lanes.serves_carried)
reads only the NodePort or health lane's new samples."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import Any

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.replay import iv_tail, lane_order, lane_tail, proxy, signals, unseen
from gapwatch.replay import lanes as lanes_mod
from gapwatch.replay import observed as observed_mod
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.fold import FoldState, Sample, fold, lb_facing
from gapwatch.replay.lanes import serves_carried, serves_signal
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import proxy_lag_hi
from gapwatch.replay.signals import Step
from tests.replay import builders


def _grown(rng: random.Random, lane: list[Sample], n: int) -> None:
    """`n` samples appended, mostly after the last one, a few late (they slot in), some with
    a look before them (`prev_us`) after the last sample's time or before it."""
    at = lane[-1].at_us if lane else rng.randrange(-20, 20)
    for _ in range(n):
        late = rng.random() < 0.04
        step = -rng.randrange(1, 30) if late else rng.choice((0, 1, 1, 3, 7, 20))
        at += step
        prev = None if rng.random() < 0.3 else at - rng.randrange(-3, 12)
        value = rng.choice(("connected", "connected", "timeout", "200", "503"))
        lane.append(Sample(at, prev, value, rng.randrange(1000)))
        if late:
            at -= step


def _moved(rng: random.Random, steps: list[Step]) -> list[Step]:
    """`steps` with a few near the end moved or dropped, as syncs may move the newest ones."""
    out = list(steps)
    for _ in range(rng.choice((0, 0, 1, 3))):
        if out:
            k = len(out) - 1 - rng.randrange(min(len(out), 20))
            s = out[k]
            if rng.random() < 0.3:
                del out[k]
            else:
                out[k] = s._replace(earliest=s.earliest - rng.randrange(0, 5))
    return out


def test_carried_on_equals_whole() -> None:
    """Random lanes grown 6 times (a few samples late, the steps' newest ones moved or dropped
    some rounds, the value read as true and the initial value switched now and then) against
    the whole lane's steps and their Tri."""
    rng = random.Random(2929)
    for _ in range(3000):
        lane: list[Sample] = []
        was_steps = was_tri = None
        true, initial = "connected", True
        for _round in range(6):
            _grown(rng, lane, rng.choice((0, 1, 2, 5, 9, 30, 100)))
            if rng.random() < 0.05:
                true = rng.choice(("connected", "200"))
            if rng.random() < 0.05:
                initial = not initial
            ordered = sorted(lane, key=lambda s: s.at_us)  # a new list, as observed() gives
            got, was_steps = lane_tail.steps(ordered, true, initial, was_steps)
            assert got == signals.steps_from_samples(ordered, true, initial)
            synced = _moved(rng, got)
            tri, was_tri = lane_tail.tri(synced, initial, was_tri)
            assert tri == signals.tri_from_steps(synced, initial)


def _read(monkeypatch: pytest.MonkeyPatch, true: str) -> list[int]:
    """The samples every steps_where call that reads `true` as true reads (lane_tail's name
    and signals' own): the probed lane's steps (the health path also reads its lane for other
    values: the 503s that count local endpoints, `behind`)."""
    seen: list[int] = []
    plain = signals.steps_where

    def counting(samples: Sequence[Sample], accept: frozenset[str], *args: Any) -> Any:
        if accept == {true}:
            seen.append(len(samples))
        return plain(samples, accept, *args)

    monkeypatch.setattr(signals, "steps_where", counting)
    monkeypatch.setattr(lane_tail, "steps_where", counting)
    return seen


@pytest.mark.parametrize("kind", ["nodeport", "health"])
def test_a_refresh_reads_the_new_looks_only(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """n1's NodePort (or health) lane grows by 200 looks a round, flapping, over 5 rounds: F
    carried on equals a fresh state's, and the lane is read 200 samples a round and at most
    `STRIDE` more (the whole lane each round before: 2,000 more samples read by round 5)."""
    seen = _read(monkeypatch, "connected" if kind == "nodeport" else "200")
    per_round = _flapping(kind, seen)
    assert all(200 <= n <= 200 + lane_tail.STRIDE + 10 for n in per_round), per_round


def _flapping(kind: str, seen: list[int]) -> list[int]:
    """n1's NodePort (or health) lane grown by 200 flapping looks a round over 5 rounds, F
    carried on each round (and its lanes as `observed` gave them: lane_tail.looks): the sum of
    `seen` (cleared before each) per round. Each round's F equals a fresh state's."""

    def look(t: int) -> Observation:
        if kind == "nodeport":
            return builders.nodeport(t, t - 1, "n1", "connected" if t % 2 else "timeout")
        return builders.health(t, t - 1, "n1", t % 2)

    history = [*builders.one_node(), *(look(t) for t in range(2, 100))]
    rounds = builders.grown(history, [look(t) for t in range(100, 1100)], 200, 5)
    state, _ = next(rounds)
    (svc,) = lb_facing(state)
    lag_hi = proxy_lag_hi(state, svc, DEFAULTS)
    trails: lane_tail.Looks = {}
    _, carried = serves_carried(state, svc, "n1", DEFAULTS, lag_hi, None, trails)
    per_round = []
    for state, folded in rounds:
        seen.clear()
        got, carried = serves_carried(state, svc, "n1", DEFAULTS, lag_hi, carried, trails)
        per_round.append(sum(seen))
        fresh = fold(FoldState(), folded)
        assert got == serves_signal(fresh, svc, "n1", DEFAULTS, proxy_lag_hi(fresh, svc, DEFAULTS))
    if kind == "nodeport":
        assert len(got[0].possible) > 400  # F flapped: its Tri holds every change
    return per_round


def test_bad_looks_carried_on_equal_whole() -> None:
    """Random lanes grown 6 times (a few samples late, the good value switched now and then)
    against unseen.bad_looks of the whole lane."""
    rng = random.Random(2930)
    for _ in range(3000):
        lane: list[Sample] = []
        was = None
        good = "connected"
        for _round in range(6):
            _grown(rng, lane, rng.choice((0, 1, 2, 5, 9, 30, 100)))
            if rng.random() < 0.05:
                good = rng.choice(("connected", "200"))
            ordered = sorted(lane, key=lambda s: s.at_us)
            got, was = lane_tail.bad_looks(ordered, good, was)
            assert got == unseen.bad_looks(ordered, good.__ne__)


@pytest.mark.parametrize("kind", ["nodeport", "health"])
def test_a_refresh_reads_the_new_looks_for_bad_ones(
    monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The lane of `_flapping`: the bad looks `excursions` reads come from the new 200 samples a
    round and at most `STRIDE` more (before: the whole lane each call, twice where both the
    ready and the serving sets were searched)."""
    seen = builders.counted([unseen, lane_tail], "bad_run", monkeypatch.setattr)
    per_round = _flapping(kind, seen)
    assert all(200 <= n <= 200 + lane_tail.STRIDE + 10 for n in per_round), per_round


def test_a_nodeport_refresh_with_no_excursion_sorts_no_health_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lane of `_flapping` with no unseen excursion to place: `excursions` sorts no health
    lane (before: the node's whole health lane sorted each time F was found). Since refresh
    round 9 it reads the lane through replay.lane_order, whose whole sorts are counted: no
    round's carried find asks for one (the fresh state each round is compared with sorts its
    NodePort lane once, having no order kept)."""
    seen = builders.counted([lane_order], "sorted_lane", monkeypatch.setattr)
    per_round = _flapping("nodeport", seen)
    assert per_round == [0] * len(per_round)


#: a Node lane's values: up, and the three proxy.NODE_DOWN reads as down
NODE_VALUES = ("Ready", "Ready", "NotReady", "Unknown", "Deleted")


def _node_lane(rng: random.Random, lane: list[Sample]) -> list[Sample]:
    """A Node lane of a few status changes over the health lane's span."""
    end = lane[-1].at_us if lane else 10
    return sorted(
        Sample(rng.randrange(end - 300, end + 20), None, rng.choice(NODE_VALUES), k)
        for k in range(rng.choice((0, 1, 2, 4)))
    )


def test_silences_carried_on_equal_whole() -> None:
    """Random health lanes grown 6 times (a few looks late, runs of timeouts), the Node lane
    and the grace changed now and then, against proxy.silent_stretches of the whole lane."""
    rng = random.Random(2932)
    values = ("200", "200", "503", "timeout", "timeout", "error", "refused", "unknown")
    for _ in range(3000):
        lane: list[Sample] = []
        was = None
        node_lane: list[Sample] = []
        grace = 5
        for _round in range(6):
            _grown(rng, lane, rng.choice((0, 1, 2, 5, 9, 30, 100)))
            lane[-len(lane) // 3 :] = [
                s._replace(value=rng.choice(values)) for s in lane[-len(lane) // 3 :]
            ]
            if rng.random() < 0.2:
                node_lane = _node_lane(rng, lane)
            if rng.random() < 0.05:
                grace = rng.choice((0, 5, 40))
            ordered = sorted(lane, key=lambda s: s.at_us)
            got, was = lane_tail.silences(ordered, node_lane, grace, was)
            assert got == proxy.silent_stretches(ordered, node_lane, grace)


def test_silences_read_the_new_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A health lane grown by 200 looks a round (a timeout every 7th) for 5 rounds: its silent
    stretches carried on ask `silent` of the new looks and at most `STRIDE` + 1 before them
    (the whole lane each round before: 1,000 to 1,800 looks), and equal the whole lane's."""
    looks = [Sample(t, t - 1, "timeout" if t % 7 == 0 else "200", t) for t in range(1, 2001)]
    node_lane = [Sample(300, None, "NotReady", 0), Sample(320, None, "Ready", 1)]
    calls: list[str] = []
    plain = proxy.silent

    def counting(value: str) -> bool:
        calls.append(value)
        return plain(value)

    _, was = lane_tail.silences(looks[:1000], node_lane, 10)
    monkeypatch.setattr(proxy, "silent", counting)
    for n in range(1200, 2001, 200):
        calls.clear()
        got, was = lane_tail.silences(looks[:n], node_lane, 10, was)
        # (a silent look is asked twice: where its stretch begins or goes on, and where it ends)
        assert len(calls) <= 1.4 * (200 + lane_tail.STRIDE + 2), len(calls)
        monkeypatch.setattr(proxy, "silent", plain)
        assert got == proxy.silent_stretches(looks[:n], node_lane, 10)
        monkeypatch.setattr(proxy, "silent", counting)


def _ivs(rng: random.Random, n: int, at: int) -> list[signals.Iv]:
    """`n` intervals from `at` on, touching or apart, now and then overlapping or empty."""
    out = []
    for _ in range(n):
        start = at + rng.choice((0, 1, 1, 2, 5, -1))
        end = start + rng.randrange(-1, 6)
        out.append(signals.Iv(start, end, rng.randrange(100), rng.randrange(100)))
        at = max(at, end)
    return out


def _grown_ivs(rng: random.Random, ivs: list[signals.Iv]) -> list[signals.Iv]:
    """A new list: `ivs` with its last few cut or moved (an open rise closed, a late change)
    and new ones after."""
    head = ivs[: len(ivs) - rng.choice((0, 0, 1, 2, 5))] if ivs else []
    at = head[-1].end if head else rng.randrange(-5, 5)
    return head + _ivs(rng, rng.choice((0, 1, 3, 9, 40)), at)


def test_serving_carried_on_equals_whole() -> None:
    """F's combining (`minus_definite(t_and(tri, exists), gaps)`) carried on as F's Tri, the
    node's existence and the unseen gaps grow, move at their ends or empty, against the plain
    functions over the whole lists."""
    rng = random.Random(3030)
    for _ in range(3000):
        tri = signals.Tri([], [])
        exists = signals.Tri([signals.Iv(signals.LO, signals.HI, 0, 0)] * 2, [])
        gaps: list[signals.Iv] = []
        was = None
        for _round in range(6):
            tri = signals.Tri(_grown_ivs(rng, tri.possible), _grown_ivs(rng, tri.definite))
            if rng.random() < 0.2:
                exists = signals.Tri(_grown_ivs(rng, exists.possible), _grown_ivs(rng, []))
            gaps = [] if rng.random() < 0.2 else _grown_ivs(rng, gaps)
            got, was = lane_tail.serving(tri, exists, gaps, was)
            assert got == signals.minus_definite(signals.t_and(tri, exists), gaps)


def test_a_refresh_combines_the_new_intervals_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The NodePort lane of `_flapping` (F's Tri grows by 100 intervals a round, past 400): the
    intersections F's combining runs step through the new looks' intervals and at most a few
    `STRIDE`s before them, about 104 steps a round (before: through F's whole Tri, 152, 252,
    352, 452, 552 steps in rounds 1-5)."""
    steps: list[int] = []
    plain = signals.intersect_run

    def counting(a: Any, b: Any, i: int, j: int, *args: Any) -> tuple[int, int]:
        i2, j2 = plain(a, b, i, j, *args)
        steps.append(i2 + j2 - i - j)
        return i2, j2

    for module in (signals, iv_tail):
        monkeypatch.setattr(module, "intersect_run", counting)
    per_round = _flapping("nodeport", steps)
    assert all(n <= 100 + 4 * iv_tail.STRIDE for n in per_round), per_round


def test_looks_carried_on_equal_observed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random lanes grown 6 times (a few samples late), the observer's clock offset and the
    assumed skew changed now and then, against observed() of the whole lane."""
    rng = random.Random(3031)
    offset = [0]
    monkeypatch.setattr(lane_tail, "clock_offset", lambda *args: offset[0])
    monkeypatch.setattr(observed_mod, "clock_offset", lambda *args: offset[0])
    svc = ServiceRef("c", "ns", "svc")
    for _ in range(1500):
        state = FoldState()
        lane: list[Sample] = []
        state.probes["nodeport"][(svc, "n1")] = lane
        trails: lane_tail.Looks = {}
        settings = DEFAULTS
        for _round in range(6):
            _grown(rng, lane, rng.choice((0, 1, 2, 5, 9, 30, 100)))
            if rng.random() < 0.1:
                offset[0] = rng.choice((0, 0, 3, -7))
            if rng.random() < 0.1:
                settings = dataclasses.replace(DEFAULTS, clock_skew_s=rng.choice((0, 1, 2.5)))
            got = lane_tail.looks(state, "nodeport", svc, "n1", settings, trails)
            assert got == observed_mod.observed(state, "nodeport", svc, "n1", settings)


@pytest.mark.parametrize("kind", ["nodeport", "health"])
def test_a_refresh_reads_the_new_looks_once(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """The lane of `_flapping`: F's `observed` lane, carried on, reads the new 200 samples a
    round and the last one before them to know the lane is still in time order (before: the
    whole lane sorted or checked each round, 298, 498, ... 1,098 samples)."""
    seen = builders.counted([observed_mod], "sorted_lane", monkeypatch.setattr)

    def at_us(sample: Sample) -> int:
        seen.append(1)
        return sample.at_us

    monkeypatch.setattr(lane_tail, "AT_US", at_us)
    per_round = _flapping(kind, seen)
    assert all(n <= 200 + 1 for n in per_round), per_round


def test_a_health_refresh_finds_silence_in_the_new_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The health lane of `_flapping`: F's silent stretches (both kinds: those the Node's
    status confirms and the rest), carried on, ask `silent` of the new 200 looks a round and
    a few before (before: the whole lane twice a round, 596, 996, ... 2,196 asks)."""
    seen: list[int] = []
    plain = proxy.silent

    def counting(value: str) -> bool:
        seen.append(1)
        return plain(value)

    monkeypatch.setattr(proxy, "silent", counting)
    monkeypatch.setattr(lanes_mod, "silent", counting)
    per_round = _flapping("health", seen)
    assert all(n <= 200 + lane_tail.STRIDE + 10 for n in per_round), per_round


def test_times_carried_on_equal_whole() -> None:
    """Random lanes grown 6 times (a few samples late), read through the same list (the fold's
    lane) or, now and then, a new one (a corrected lane, the health path's), against the whole
    list's times."""
    rng = random.Random(3131)
    for _ in range(1500):
        lane: list[Sample] = []
        was = None
        for _round in range(6):
            _grown(rng, lane, rng.choice((0, 1, 2, 5, 9, 30, 100)))
            read = lane if rng.random() < 0.8 else list(lane)
            got, was = lane_tail.times(read, was)
            assert got == [s.at_us for s in read]


class _Iterated(list[Sample]):
    """A fold lane that counts the samples read from it by iteration or by slice."""

    read: list[int]

    def __iter__(self) -> Any:
        self.read.append(len(self))
        return super().__iter__()

    def __getitem__(self, k: Any) -> Any:
        got = super().__getitem__(k)
        if isinstance(k, slice):
            self.read.append(len(got))
        return got


def test_a_refresh_reads_the_new_reason_times_only() -> None:
    """n1's NodePort lane (F's reason samples) grows by 200 flapping looks a round over 5
    rounds: `lanes` given F (as the node's cache keeps it) reads the lane's new 200 samples a
    round for the reasons' times, carried on (before: the whole lane each round, 298, 498,
    ... 1,098 samples), and its lanes equal a fresh state's."""

    def look(t: int) -> Observation:
        return builders.nodeport(t, t - 1, "n1", "connected" if t % 2 else "timeout")

    history = [*builders.one_node(), *(look(t) for t in range(2, 100))]
    rounds = builders.grown(history, [look(t) for t in range(100, 1100)], 200, 5)
    state, _ = next(rounds)
    (svc,) = lb_facing(state)
    lane = _Iterated(state.probes["nodeport"][(svc, "n1")])
    lane.read = []
    # the fold appends to it from here (its lanes by key, `FoldState.lanes`, and by Service)
    state.probes["nodeport"][(svc, "n1")] = lane
    (key,) = (k for k in state.lanes if k[0] == "nodeport")
    state.lanes[key] = lane
    lag_hi = proxy_lag_hi(state, svc, DEFAULTS)
    trails: lane_tail.Looks = {}
    served, carried = serves_carried(state, svc, "n1", DEFAULTS, lag_hi, None, trails)
    found = lanes_mod.lanes(state, svc, "n1", DEFAULTS, lag_hi, served, None, trails)
    per_round = []
    for state, folded in rounds:
        served, carried = serves_carried(state, svc, "n1", DEFAULTS, lag_hi, carried, trails)
        lane.read.clear()
        found = lanes_mod.lanes(
            state, svc, "n1", DEFAULTS, lag_hi, served, found.silence, trails, found.times_trail
        )
        per_round.append(sum(lane.read))
        fresh = fold(FoldState(), folded)
        assert found == lanes_mod.lanes(
            fresh, svc, "n1", DEFAULTS, proxy_lag_hi(fresh, svc, DEFAULTS)
        )
        assert found.reason_times == [s.at_us for s in found.reason_samples]
    assert all(n <= 200 for n in per_round), per_round
