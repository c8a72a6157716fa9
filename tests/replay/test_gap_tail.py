"""replay.gap_tail: R and not F and its candidates carried on from the last run give what
`t_and(R, t_not(F))` and `detect.candidates_of` give over the whole lists, and step only
through the lists' moved end."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.replay import gap_tail, node_cache, resumed
from gapwatch.replay.detect import candidates_of
from gapwatch.replay.lanes import Lanes
from gapwatch.replay.lanes import lanes as lanes_of
from gapwatch.replay.signals import Iv, Tri, t_and, t_not
from tests.replay import builders
from tests.replay import test_suffix_stretch as stretch

EVERY = 200.0  # n1's NodePort times out (no health answer) at 100 s, 300 s, ...


def _history() -> list[Observation]:
    """tests/replay/test_suffix_stretch.py's n1 and n2 (n1's only pod gone at 50 s, its
    endpoints `none` to the end), n1's NodePort timing out every `EVERY` s: a window each."""
    return stretch._history(lambda t: t % EVERY == 100.0)


def _ivs(rng: random.Random, n: int, well_formed: bool) -> list[Iv]:
    out: list[Iv] = []
    at = rng.randrange(-5, 5)
    for _ in range(n):
        if well_formed:
            start = at + rng.choice((0, 1, 1, 2, 5))  # touching, or a break
            end = start + rng.randrange(1, 6)
            at = end
        else:  # anything sorted by start: overlapping, nested, empty
            start = at + rng.randrange(0, 3)
            end = start + rng.randrange(-1, 8)
            at = start
        out.append(Iv(start, end, rng.randrange(100), rng.randrange(100)))
    return out


def _moved(rng: random.Random, ivs: list[Iv], well_formed: bool) -> list[Iv]:
    """`ivs` with a tail cut at a random point and a new one grown there (or kept whole)."""
    cut = rng.randrange(len(ivs) + 1) if rng.random() < 0.7 else len(ivs)
    if rng.random() < 0.5:
        cut = max(cut, len(ivs) - rng.randrange(4))
    head = ivs[:cut]
    tail = _ivs(rng, rng.randrange(0, 40), well_formed)
    shift = (head[-1].start if head else 0) + rng.randrange(0, 4)
    return head + [Iv(v.start + shift, v.end + shift, v.start_eid, v.end_eid) for v in tail]


def _tri(rng: random.Random, n: int, well_formed: bool) -> Tri:
    return Tri(_ivs(rng, n, well_formed), _ivs(rng, n, well_formed))


def test_carried_on_equals_whole() -> None:
    rng = random.Random(28)
    for case in range(1500):
        well_formed = case % 3 != 0
        n = rng.choice((0, 1, 3, 20, 70, 200, 400))
        routed, serves = _tri(rng, n, well_formed), _tri(rng, n, well_formed)
        trail = None
        for _ in range(4):
            gap, merged, trail = gap_tail.gap(routed, serves, trail)
            want = t_and(routed, t_not(serves))
            assert gap == want, case
            assert merged == candidates_of(want), case
            routed = Tri(*(_moved(rng, ivs, well_formed) for ivs in routed))
            serves = Tri(*(_moved(rng, ivs, well_formed) for ivs in serves))


def test_same() -> None:
    rng = random.Random(5)
    for _ in range(500):
        a = [rng.randrange(3) for _ in range(rng.randrange(50))]
        b = a[: rng.randrange(len(a) + 1)] + [rng.randrange(3) for _ in range(rng.randrange(9))]
        k = rng.randrange(max(len(a), len(b)) + 2)
        want = k <= min(len(a), len(b)) and all(a[i] == b[i] for i in range(k))
        assert resumed.same(a, b, k) == want


class _Counted(list):  # type: ignore[type-arg]
    """An interval list that counts the elements read one by one (a slice is one read)."""

    reads = 0

    def __getitem__(self, k: Any) -> Any:
        _Counted.reads += 1
        return super().__getitem__(k)

    def __iter__(self) -> Iterator[Any]:
        for iv in super().__iter__():
            _Counted.reads += 1
            yield iv


def test_a_refresh_reads_r_and_f_from_where_they_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose NodePort times out every 200 s for 18,000 s (a window each: 257 intervals
    in R's and F's lists), refreshed with its last 1,000 s: R and not F and its candidates
    read R's and F's intervals from where they moved (the last 5 blips' and at most `STRIDE`
    before), not the whole lists (on the code before: every interval, 272 reads), and the
    windows are a rebuild's."""
    history = _history()
    found: list[int] = []
    within = [False]
    find = node_cache.Found.find

    def counted_lanes(*args: Any) -> Lanes:
        out = lanes_of(*args)
        if args[2] == "n1":
            routed, serves = (Tri(*map(_Counted, tri)) for tri in (out.routed, out.serves))
            out = replace(out, routed=routed, serves=serves)
            within[0], _Counted.reads = True, 0
        return out

    def counted_find(*args: Any, **kwargs: Any) -> node_cache.Found:
        out = find(*args, **kwargs)
        if within[0]:
            found.append(_Counted.reads)
            within[0] = False
        return out

    monkeypatch.setattr(node_cache, "lanes", counted_lanes)
    monkeypatch.setattr(node_cache.Found, "find", counted_find)
    _, after, rebuilt = builders.refreshed_at(history, stretch.END - 1000.0)
    assert after == rebuilt
    assert len([w for w in after if w.node == "n1"]) == stretch.END / EVERY
    first, refreshed = found  # the build's, the refresh's
    assert first >= 250  # every interval of R and F (257 here)
    assert refreshed <= 50  # the last 5 blips' and at most STRIDE before (38; 272 before)
