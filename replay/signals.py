"""Boolean signals under sampling uncertainty, as two interval lists.

A sampled boolean (R "the LB routes to N", F "N serves") is known exactly only where the samples
say so; around each change there is an interval [earliest, latest] in which it flipped. A `Tri`
keeps, for one signal, where it is *possibly* true and where it is *definitely* true. NOT, AND and
OR are exact on that representation (possible(not X) = not definite(X), ...), so a gap window
R and not F is found as: possibly-true candidates, certain when some part is definitely true.

Intervals carry the event ids that opened and closed them, so windows can name their causes.
Pure functions; times are integer microseconds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from operator import itemgetter
from typing import NamedTuple

from gapwatch.replay.fold import AT_US, Sample

LO = -(2**62)
HI = 2**62


class Iv(NamedTuple):
    """[start, end), with the event ids of the changes that bound it (0 when unknown)."""

    start: int
    end: int
    start_eid: int = 0
    end_eid: int = 0


class Step(NamedTuple):
    """The signal became `value` somewhere in [earliest, latest]."""

    earliest: int
    latest: int
    value: bool
    event_id: int


class Tri(NamedTuple):
    possible: list[Iv]
    definite: list[Iv]


def steps_from_samples(samples: Sequence[Sample], true: str, initial: bool) -> list[Step]:
    """The changes a sample list shows (the signal is true where the value is `true`); before
    the first sample the signal is `initial`."""
    return steps_where(samples, frozenset((true,)), initial)


def steps_where(
    samples: Sequence[Sample], accept: frozenset[str], initial: bool, prev_at: int | None = None
) -> list[Step]:
    """steps_from_samples for a signal that is true where the value is any of `accept`;
    `prev_at`: the time of the sample before `samples`, where they carry a lane on (its steps
    then are those of the whole lane after the ones before). The hot loop of a replay: kept
    plain."""
    steps: list[Step] = []
    current = initial
    new = tuple.__new__
    for at_us, prev_us, value_text, event_id, _num in samples:
        if (value_text in accept) is not current:
            earliest = prev_us if prev_us is not None else prev_at
            if earliest is None or earliest > at_us:
                earliest = at_us
            if prev_at is not None and earliest < prev_at:
                earliest = prev_at
            current = not current
            steps.append(new(Step, (earliest, at_us, current, event_id)))
        prev_at = at_us
    return steps


_at = itemgetter(0)


def exact_steps(changes: Sequence[tuple[int, bool, int]], initial: bool) -> list[Step]:
    """Steps with no uncertainty from (time, value, event id) changes (what-if timelines).

    Of several changes at one instant the last one given holds. One pass over the changes in
    time order (a stable sort keeps the given order within an instant; most lanes come sorted):
    a change is held back until the next one shows its instant is over. Called for every lane
    a node's detection reads: kept plain.
    """
    steps: list[Step] = []
    if not changes:
        return steps
    current = initial
    new = tuple.__new__
    ordered = sorted(changes, key=_at)
    held_at, held_value, held_eid = ordered[0]
    for at, value, eid in ordered:
        if at != held_at:
            if held_value != current:
                steps.append(new(Step, (held_at, held_at, held_value, held_eid)))
                current = held_value
            held_at = at
        held_value, held_eid = value, eid
    if held_value != current:
        steps.append(new(Step, (held_at, held_at, held_value, held_eid)))
    return steps


def tri_from_steps(steps: Sequence[Step], initial: bool) -> Tri:
    """Possibly true from a rise's earliest to the fall's latest, surely true from the rise's
    latest to the fall's earliest. Kept plain (every lane of a node's detection)."""
    possible: list[Iv] = []
    definite: list[Iv] = []
    rising, rise = tri_run(steps, bool(initial), (LO, LO, 0), possible, definite)
    return tri_closed(possible, definite, rising, rise)


def tri_run(
    steps: Sequence[Step],
    rising: bool,
    rise: tuple[int, int, int],
    possible: list[Iv],
    definite: list[Iv],
) -> tuple[bool, tuple[int, int, int]]:
    """`tri_from_steps`' loop: reads `steps` from the state (`rising`, and the open rise's
    earliest, latest and event id) the steps before them left, appending the intervals they
    close to `possible` and `definite`; the state after them (replay.lane_tail carries it on)."""
    new = tuple.__new__
    rise_earliest, rise_latest, rise_eid = rise
    for earliest, latest, value, event_id in steps:
        if value and not rising:
            rising, rise_earliest, rise_latest, rise_eid = True, earliest, latest, event_id
        elif not value and rising:
            possible.append(new(Iv, (rise_earliest, latest, rise_eid, event_id)))
            if rise_latest < earliest:
                definite.append(new(Iv, (rise_latest, earliest, rise_eid, event_id)))
            rising = False
    return rising, (rise_earliest, rise_latest, rise_eid)


def tri_closed(
    possible: list[Iv], definite: list[Iv], rising: bool, rise: tuple[int, int, int]
) -> Tri:
    """The Tri of `tri_run`'s intervals and state: a rise still open holds to the end."""
    if rising:
        possible.append(Iv(rise[0], HI, rise[2], 0))
        definite.append(Iv(rise[1], HI, rise[2], 0))
    return Tri(possible, definite)


def constant(value: bool) -> Tri:
    ivs = [Iv(LO, HI)] if value else []
    return Tri(ivs, list(ivs))


def intersect(a: Sequence[Iv], b: Sequence[Iv]) -> list[Iv]:
    """Where both hold; a bound shared by both keeps `a`'s event id. Kept plain (every AND)."""
    out: list[Iv] = []
    intersect_run(a, b, 0, 0, out, len(a) + len(b))
    return out


def intersect_run(
    a: Sequence[Iv], b: Sequence[Iv], i: int, j: int, out: list[Iv], stop: int
) -> tuple[int, int]:
    """`intersect`'s merge from `a[i]` and `b[j]`, appending to `out`, until either list ends
    or `i + j` reaches `stop` (each step moves one of them on by one); where it stopped.
    replay.gap_tail runs it a few steps at a time to keep its state between them."""
    new = tuple.__new__
    na, nb = len(a), len(b)
    while i < na and j < nb and i + j < stop:
        x_start, x_end, x_start_eid, x_end_eid = a[i]
        y_start, y_end, y_start_eid, y_end_eid = b[j]
        if x_start >= y_start:
            start, start_eid = x_start, x_start_eid
        else:
            start, start_eid = y_start, y_start_eid
        if x_end <= y_end:
            end, end_eid = x_end, x_end_eid
            i += 1
        else:
            end, end_eid = y_end, y_end_eid
            j += 1
        if start < end:
            out.append(new(Iv, (start, end, start_eid, end_eid)))
    return i, j


def union(a: Sequence[Iv], b: Sequence[Iv]) -> list[Iv]:
    merged = sorted([*a, *b])
    out: list[Iv] = []
    for iv in merged:
        if out and iv.start <= out[-1].end:
            last = out[-1]
            if iv.end > last.end:
                out[-1] = Iv(last.start, iv.end, last.start_eid, iv.end_eid)
        else:
            out.append(iv)
    return out


def complement(a: Sequence[Iv]) -> list[Iv]:
    out: list[Iv] = []
    cursor, cursor_eid = LO, 0
    for iv in a:
        if iv.start > cursor:
            out.append(Iv(cursor, iv.start, cursor_eid, iv.start_eid))
        cursor, cursor_eid = max(cursor, iv.end), iv.end_eid
    if cursor < HI:
        out.append(Iv(cursor, HI, cursor_eid, 0))
    return out


def t_not(x: Tri) -> Tri:
    return Tri(complement(x.definite), complement(x.possible))


def t_and(x: Tri, y: Tri) -> Tri:
    return Tri(intersect(x.possible, y.possible), intersect(x.definite, y.definite))


def t_or(x: Tri, y: Tri) -> Tri:
    return Tri(union(x.possible, y.possible), union(x.definite, y.definite))


def minus_definite(tri: Tri, unsure: list[Iv]) -> Tri:
    """`tri` no longer definitely true over `unsure` (where the samples could have missed a
    change): still possibly true there."""
    return Tri(tri.possible, intersect(tri.definite, complement(unsure))) if unsure else tri


def reaching_back(ivs: Sequence[Iv], at_us: int, floor_us: int) -> int:
    """How far back from `at_us` `ivs` (sorted, disjoint or touching) hold without a break:
    the start of the run of intervals that reaches `at_us` (`at_us` where none does), never
    before `floor_us`."""
    out = at_us
    k = bisect_left(ivs, out, key=_start) - 1
    while k >= 0 and out > floor_us and ivs[k].start < out <= ivs[k].end:
        out = max(ivs[k].start, floor_us)
        k -= 1
    return out


_start = itemgetter(0)


def shifted(steps: Sequence[Step], lo_us: int = 0, hi_us: int = 0) -> list[Step]:
    """The same changes happening `lo..hi` later (an inferred lag with its uncertainty)."""
    out: list[Step] = []
    for s in steps:
        earliest, latest = s.earliest + lo_us, s.latest + hi_us
        if out and earliest < out[-1].latest:
            earliest = out[-1].latest
            latest = max(latest, earliest)
        out.append(Step(earliest, latest, s.value, s.event_id))
    return out


def value_at(samples: Sequence[Sample], at_us: int) -> str | None:
    """The value of the last sample at or before `at_us` (None before the first)."""
    lo = bisect_right(samples, at_us, key=AT_US)  # the same halving, in C
    return samples[lo - 1].value if lo else None
