"""The quiet and unbegun spans of a node's kube-proxy metrics (replay.synccount) read by
bisection where F places a change (`outside_quiet`) and an unseen excursion's return
(replay.unseen `_never_read`): a few spans read a call, not a list of every span's start (a
pass over the node's whole metrics history on every find of a refresh: benchmarks/README.md,
"Session 34: refresh, round 3"); the same answers as a linear search of the spans."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.replay.signals import HI, Iv, Step
from gapwatch.replay.synccount import outside_quiet
from gapwatch.replay.unseen import _never_read


class _Read(Sequence[Iv]):
    """Spans that count how many of them were read."""

    def __init__(self, spans: list[Iv]) -> None:
        self.spans, self.read = spans, 0

    def __len__(self) -> int:
        return len(self.spans)

    @overload
    def __getitem__(self, i: int) -> Iv: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Iv]: ...
    def __getitem__(self, i: Any) -> Any:
        self.read += 1
        return self.spans[i]


#: 10,000 spans of 2 s every 3 s (a node scraped every 1.5 s for four hours)
_MANY = [Iv(3 * k, 3 * k + 2, k, k + 1) for k in range(10_000)]


def test_outside_quiet_reads_a_few_spans() -> None:
    """A change in (15,001, 15,004] among 10,000 quiet spans: its ends move out of the two it
    touches, and a few spans are read (main listed every span's start: 10,000 and more)."""
    spans = _Read(_MANY)
    assert outside_quiet(Step(15_001, 15_004, True, 7), spans) == Step(15_002, 15_003, True, 7)
    assert spans.read < 60, spans.read


def test_never_read_reads_a_few_spans() -> None:
    """An excursion (2 s loss to return) inside one of 10,000 unbegun spans ends at its return;
    a few spans are read (main listed every span's start)."""
    spans = _Read([Iv(10 * k, 10 * k + 9, k, k + 1) for k in range(10_000)])
    back = _never_read([Iv(50_002, 50_006, 1, 42)], 2, spans, 1, 1)
    assert back == {42: 50_004}
    assert spans.read < 60, spans.read


def _linear_last(spans: Sequence[Iv], at: int) -> int:
    """The index of the last span starting at or before `at` (-1: none), read linearly."""
    return max((k for k, iv in enumerate(spans) if iv.start <= at), default=-1)


_SPANS = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 12)), max_size=12).map(
    lambda raw: sorted(
        (Iv(a, a + w, k, k + 1) for k, (a, w) in enumerate(raw)), key=lambda iv: iv.start
    )
)


@settings(max_examples=400, deadline=None)
@given(spans=_SPANS, a=st.integers(-5, 80), w=st.integers(0, 20))
def test_outside_quiet_is_a_linear_searchs(spans: list[Iv], a: int, w: int) -> None:
    """Spans sorted by start (overlapping, touching, equal starts): each end of the change
    moves as a linear search for the last span starting before it and the walk from there
    moves it."""
    earliest, latest = a, a + w
    i = _linear_last(spans, earliest - 1)
    while 0 <= i < len(spans) and spans[i].start < earliest < spans[i].end:
        earliest = spans[i].end
        i += 1
    j = _linear_last(spans, latest - 1)
    while j >= 0 and spans[j].start < latest <= spans[j].end:
        latest = spans[j].start
        j -= 1
    want = Step(a, a + w, True, 1)
    if spans and earliest <= latest:
        want = want._replace(earliest=earliest, latest=latest)
    assert outside_quiet(Step(a, a + w, True, 1), spans) == want


@settings(max_examples=400, deadline=None)
@given(
    spans=_SPANS,
    periods=st.lists(st.tuples(st.integers(0, 70), st.integers(0, 15)), max_size=5),
    hi=st.integers(0, 4),
    before=st.integers(0, 3),
    after=st.integers(0, 3),
)
def test_never_read_is_a_linear_searchs(
    spans: list[Iv], periods: list[tuple[int, int]], hi: int, before: int, after: int
) -> None:
    """Each excursion's return found under the last unbegun span starting before its loss
    (less `before`), as a linear search finds it; one reaching HI never."""
    excursions = [Iv(a, a + w, 0, k) for k, (a, w) in enumerate(periods)]
    excursions.append(Iv(3, HI, 0, 99))
    want: dict[int, int] = {}
    for iv in excursions:
        i = _linear_last(spans, iv.start - before - 1)
        back = iv.end - hi
        if iv.end < HI and i >= 0 and back + after < spans[i].end:
            want[iv.end_eid] = back
    assert _never_read(excursions, hi, spans, before, after) == want
