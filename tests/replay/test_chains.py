"""replay.chains: the interval lists detect.windows_from reads for each candidate window give
by bisection what the plain loops give, whatever the lists hold, and a refresh's windows_from
reads F's intervals around its newest candidates only."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay import chains, detect, node_cache
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import _fell_by, _rose_by
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.lanes import Lanes
from gapwatch.replay.lanes import lanes as lanes_of
from gapwatch.replay.signals import LO, Iv, Tri
from tests.replay import builders
from tests.replay import test_suffix_stretch as stretch
from tests.replay.test_gap_tail import EVERY, _history, _ivs
from tests.replay.test_lane_bisect import _fell_by_defined, _rose_by_defined


def test_bisection_equals_the_loops() -> None:
    rng = random.Random(15)
    for case in range(3000):
        well_formed = case % 3 != 0  # a third overlapping, nested or empty
        n = rng.choice((0, 1, 2, 5, 30, 120))
        possible, definite = _ivs(rng, n, well_formed), _ivs(rng, n, well_formed)
        if case % 7 == 0 and possible:  # an unbounded first stretch
            possible[0] = possible[0]._replace(start=LO)
        sig = Tri(possible, definite)
        found = chains.Chains()
        assert found.of(possible) is found.of(possible)
        lo = min((iv.start for iv in possible + definite), default=0) - 3
        hi = max((iv.end for iv in possible + definite), default=0) + 3
        for _ in range(12):
            at, last = rng.randrange(lo, hi), rng.randrange(lo, hi)
            assert chains.holding(found.of(possible), at) == chains.first_holding(possible, at)
            assert _fell_by(sig, at, last, found) == _fell_by_defined(sig, at, last), case
            assert _rose_by(sig, at, last, found) == _rose_by_defined(sig, at, last), case
            assert _fell_by(sig, at, last) == _fell_by_defined(sig, at, last), case
            held = Iv(at, at + rng.randrange(0, 9))
            want = any(
                iv.start < held.end and iv.start <= last and iv.end > held.start for iv in definite
            )
            assert chains.begun_by(found.of(definite), last, held) == want, case
            j = rng.randrange(len(definite) + 1)
            k = j
            while k < len(definite) and definite[k].end <= at:
                k += 1
            assert chains.skip_ended(found.of(definite), j, at) == k, case
            want_start = next((iv.start for iv in definite if iv.start >= at), last)
            assert chains.first_start_from(found.of(definite), at, last) == want_start, case


def test_chained_or_not() -> None:
    assert chains.chain([Iv(0, 2), Iv(2, 2), Iv(3, 9)]).chained
    assert not chains.chain([Iv(0, 3), Iv(2, 4)]).chained  # overlapping
    assert not chains.chain([Iv(0, -1)]).chained  # ends before it starts
    assert chains.chain([]).chained


class _Iv(Iv):
    """An interval counting the reads of its start or end by name (the plain loops read them
    so; a chain's starts and ends are taken by index, C-level)."""

    __slots__ = ()
    reads = 0

    @property
    def start(self) -> int:
        _Iv.reads += 1
        return int(self[0])

    @property
    def end(self) -> int:
        _Iv.reads += 1
        return int(self[1])


def _counted(tri: Tri) -> Tri:
    return Tri([_Iv(*iv) for iv in tri.possible], [_Iv(*iv) for iv in tri.definite])


def test_a_refresh_reads_f_around_its_new_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The node of tests/replay/test_gap_tail.py (its NodePort timing out every 200 s for
    18,000 s: 90 windows, F's lists ~90 intervals each), refreshed with its last 1,000 s:
    windows_from reads where F falls and rises for the last candidates only, by bisection, not
    by walking F and R and not F from their first interval for each (on the code before: every
    interval before each: 10,944 reads), and the windows are a rebuild's."""
    reads: list[int] = []
    windows_from = detect.windows_from

    def counted_lanes(*args: Any) -> Lanes:
        out = lanes_of(*args)
        if args[2] == "n1":
            out = replace(out, routed=_counted(out.routed), serves=_counted(out.serves))
        return out

    def counted_windows_from(*args: Any, **kwargs: Any) -> Any:
        _Iv.reads = 0
        out = windows_from(*args, **kwargs)
        if args[2] == "n1" and not kwargs.get("proven_only"):
            reads.append(_Iv.reads)
        return out

    monkeypatch.setattr(node_cache, "lanes", counted_lanes)
    monkeypatch.setattr(node_cache, "windows_from", counted_windows_from)
    _, after, rebuilt = builders.refreshed_at(_history(), stretch.END - 1000.0)
    assert after == rebuilt
    assert len([w for w in after if w.node == "n1"]) == stretch.END / EVERY
    _, refreshed = reads  # the build's, the refresh's
    assert refreshed <= 150, reads  # 7 a candidate read, 19 read (133; 10,944 before)


def test_a_carried_chain_is_the_lists_own() -> None:
    """A list that begins with another's intervals (the same objects, or equal ones) then goes
    on with any others, well formed or not: `carried` from the old list's chain gives what
    `chain` gives of the new list, its starts, ends and verdict, and so does `Chains` with the
    old chains as `was`; one whose first interval is another is chained anew."""
    rng = random.Random(33)
    for case in range(3000):
        well_formed = case % 3 != 0
        old = _ivs(rng, rng.choice((1, 2, 5, 30, 120)), well_formed)
        keep = rng.randrange(len(old) + 1)
        head = old[:keep] if case % 2 else [Iv(*iv) for iv in old[:keep]]  # equal, not the same
        tail = _ivs(rng, rng.choice((0, 1, 3, 12)), case % 5 != 0)
        if tail and head and case % 4 == 0:  # the new ones go on from the kept ones' end
            shift = head[-1].end - tail[0].start + rng.randrange(-1, 3)
            tail = [iv._replace(start=iv.start + shift, end=iv.end + shift) for iv in tail]
        new = head + tail
        was = chains.chain(old)
        assert chains.carried(new, was) == chains.chain(new), case
        found = chains.Chains([was])
        assert found.of(new) == chains.chain(new), case
        assert chains.Chains(found.made()).of(new) == chains.chain(new), case


def test_a_refresh_chains_only_what_its_lists_added(monkeypatch: pytest.MonkeyPatch) -> None:
    """The node of tests/replay/test_gap_tail.py (90 windows, F's lists ~90 intervals each)
    folded in four steps, its last 1,500 s in three, detected node by node from the cache
    after each: from the third on, `windows_from`'s lists are carried on from the node's last
    chains (`chain` is not asked of any list of 50 intervals or more; before: F's and R and
    not F's whole lists every refresh), and each step's windows are `detect`'s."""
    facts = builders.facts_of(_history())
    cuts = [to_micros(builders.at(stretch.END - back)) for back in (1500.0, 1000.0, 500.0)]
    state, cache = FoldState(), {}  # type: ignore[var-annotated]
    seen: list[int] = []
    done = 0
    for step, bound in enumerate([*cuts, None]):
        if step == 2:
            seen = builders.counted([chains], "chain", monkeypatch.setattr)
        upto = [f for f in facts[done:] if bound is None or f.at_us <= bound]
        fold(state, upto)
        done += len(upto)
        (svc,) = lb_facing(state)
        found = node_cache.windows(state, svc, DEFAULTS, cache)
        read = len(seen)
        assert found == detect.detect(state, [svc])
        del seen[read:]  # (detect chains its lists anew)
    assert done == len(facts)
    assert all(n < 50 for n in seen), seen
