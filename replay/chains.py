"""Interval lists read by bisection where they are chains, by the plain loops elsewhere.

detect.windows_from reads, for each candidate window, which stretch of F (or R) holds its
start and whether a definite stretch began by then: the plain loops walk the lists from
their first interval, so a refresh that reads only the newest candidates still walks every
interval of F before them, and F grows with the lanes. A list is a *chain* when each interval
ends at or after its own start and the next starts at or after its end (start0 <= end0 <=
start1 <= end1 <= ...: the signals' lists, disjoint and in time order); there the interval
that can hold an instant is the last one starting at or before it, and the ends rise, so a
bisection gives what the loop gives. Whether a list is one is checked once per list read
(C-level `map`s, no Python loop); a list that is not is read by the plain loop, so the
answers are the loops' own whatever the lists hold (tests/replay/test_chains.py).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import compress, count
from operator import is_not, itemgetter, le
from typing import NamedTuple

from gapwatch.replay.signals import Iv

_START, _END = itemgetter(0), itemgetter(1)


class Chain(NamedTuple):
    """An interval list with its starts and ends, and whether it is a chain (`chained`;
    False: read by the plain loops, `starts` and `ends` not kept)."""

    ivs: Sequence[Iv]
    starts: list[int]
    ends: list[int]
    chained: bool


def plain(ivs: Sequence[Iv]) -> Chain:
    """`ivs` read by the plain loops."""
    return Chain(ivs, [], [], False)


def chain(ivs: Sequence[Iv]) -> Chain:
    """`ivs` with its starts and ends, read by bisection if it is a chain."""
    starts, ends = list(map(_START, ivs)), list(map(_END, ivs))
    if all(map(le, starts, ends)) and all(map(le, ends, starts[1:])):
        return Chain(ivs, starts, ends, True)
    return plain(ivs)


def carried(ivs: Sequence[Iv], was: Chain) -> Chain:
    """`chain(ivs)`, where `was` is a chain whose list begins with the same interval objects
    as `ivs` does (a refresh's lists carry the intervals found before the new samples on:
    replay.gap_tail, replay.lane_tail): those are `was`'s, with its starts and ends, and a
    chain (a prefix of one is); only the intervals after them are mapped and checked, with
    the seam between. Finding the shared objects is one C pass (`is_not`), no comparison of
    values. Exact: intervals are immutable tuples, so the same object has the same start and
    end (tests/replay/test_chains.py)."""
    if not was.chained:
        return chain(ivs)
    old = was.ivs
    shared = next(compress(count(), map(is_not, old, ivs)), min(len(old), len(ivs)))
    if not shared:
        return chain(ivs)
    rest = ivs[shared:]
    starts, ends = list(map(_START, rest)), list(map(_END, rest))
    if not (
        all(map(le, starts, ends))
        and all(map(le, ends, starts[1:]))
        and (not starts or was.ends[shared - 1] <= starts[0])
    ):
        return plain(ivs)
    return Chain(ivs, was.starts[:shared] + starts, was.ends[:shared] + ends, True)


class Chains:
    """The chains of the lists one caller reads, each found once (by the list's identity: a
    list is kept while its chain is, so its id is not reused meanwhile). `was`: the chains
    a previous caller made (`made`) of the lists these may carry on (the node's last
    refresh's): a list whose first interval is the first of one of them is `carried` on
    from it."""

    def __init__(self, was: Sequence[Chain] = ()) -> None:
        self._of: dict[int, Chain] = {}
        self._was = {id(c.ivs[0]): c for c in was if c.chained and c.ivs}

    def of(self, ivs: Sequence[Iv]) -> Chain:
        found = self._of.get(id(ivs))
        if found is None or found.ivs is not ivs:
            old = self._was.get(id(ivs[0])) if ivs else None
            same = old is not None and old.ivs[0] is ivs[0]
            found = self._of[id(ivs)] = carried(ivs, old) if same and old else chain(ivs)
        return found

    def made(self) -> list[Chain]:
        """The chains found here (for the next caller's `was`)."""
        return list(self._of.values())


def first_holding(ivs: Sequence[Iv], at: int) -> Iv | None:
    """The first interval holding `at` (the plain loop)."""
    for iv in ivs:
        if iv.start <= at < iv.end:
            return iv
    return None


def holding(c: Chain, at: int) -> Iv | None:
    """`first_holding(c.ivs, at)`: in a chain, only the last interval starting at or before
    `at` can hold it (each one before ends at or before the next one starts)."""
    if not c.chained:
        return first_holding(c.ivs, at)
    k = bisect_right(c.starts, at) - 1
    return c.ivs[k] if k >= 0 and at < c.ends[k] else None


def begun_by(c: Chain, at: int, held: Iv) -> bool:
    """Whether an interval starting at or before `at` overlaps `held`. In a chain those
    starting at or before both `at` and `held.end - 1` (times are integers) are a prefix, and
    the ends rise: the last of them decides."""
    if not c.chained:
        return any(iv.start < held.end and iv.start <= at and iv.end > held.start for iv in c.ivs)
    k = bisect_right(c.starts, min(at, held.end - 1))
    return k > 0 and c.ends[k - 1] > held.start


def first_overlapping(c: Chain, held: Iv) -> Iv | None:
    """The first interval overlapping `held`; in a chain, the first one ending after `held`
    starts, if it starts before `held` ends (the ones after it start later still)."""
    if not c.chained:
        return next((iv for iv in c.ivs if iv.end > held.start and iv.start < held.end), None)
    k = bisect_right(c.ends, held.start)
    return c.ivs[k] if k < len(c.ivs) and c.starts[k] < held.end else None


def first_start_from(c: Chain, at: int, default: int) -> int:
    """The first interval's start at or after `at` (`default` if none); in a chain the starts
    rise."""
    if not c.chained:
        return next((iv.start for iv in c.ivs if iv.start >= at), default)
    k = bisect_left(c.starts, at)
    return c.starts[k] if k < len(c.starts) else default


def skip_ended(c: Chain, j: int, at: int) -> int:
    """From index `j`, past the intervals ending at or before `at` (the plain walk stops at
    the first one ending after it); in a chain the ends rise: a bisection from `j`."""
    if not c.chained:
        ivs = c.ivs
        while j < len(ivs) and ivs[j].end <= at:
            j += 1
        return j
    return bisect_right(c.ends, at, j)
