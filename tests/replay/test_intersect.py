"""replay.signals.intersect, rewritten plain (session 15, refresh round 11), against its
definition: the overlaps of two sorted disjoint interval lists, each bound with the event id of
the interval it came from, `a`'s where both share it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gapwatch.replay.signals import Iv, intersect


def _by_definition(a: list[Iv], b: list[Iv]) -> list[Iv]:
    out = []
    for x in a:
        for y in b:
            start = x if x.start >= y.start else y
            end = x if x.end <= y.end else y
            if start.start < end.end:
                out.append(Iv(start.start, end.end, start.start_eid, end.end_eid))
    return sorted(out)


def _ivs(draw: st.DrawFn, eid: int) -> list[Iv]:
    cuts = sorted(draw(st.sets(st.integers(0, 30), max_size=10)))
    pairs = list(zip(cuts[::2], cuts[1::2], strict=False))
    return [Iv(s, e, eid + k, eid + 50 + k) for k, (s, e) in enumerate(pairs)]


@st.composite
def _two(draw: st.DrawFn) -> tuple[list[Iv], list[Iv]]:
    return _ivs(draw, 100), _ivs(draw, 200)


def test_a_shared_bound_keeps_the_first_lists_event_ids() -> None:
    a, b = [Iv(0, 10, 1, 2)], [Iv(0, 10, 3, 4)]
    assert intersect(a, b) == [Iv(0, 10, 1, 2)]
    assert intersect(b, a) == [Iv(0, 10, 3, 4)]
    assert intersect([Iv(0, 5, 1, 2), Iv(7, 9, 5, 6)], [Iv(3, 8, 3, 4)]) == [
        Iv(3, 5, 3, 2),
        Iv(7, 8, 5, 4),
    ]


@given(_two())
def test_equals_the_definition(lists: tuple[list[Iv], list[Iv]]) -> None:
    a, b = lists
    assert intersect(a, b) == _by_definition(a, b)
