"""A moved node's R and not F (node_cache.Found's `gap`) and its candidate windows, carried on
from what its last refresh found instead of over the node's whole lanes.

`gap = t_and(R, t_not(F))` and `detect.candidates_of(gap)` are five loops (two `complement`s,
two `intersect`s: replay.iv_tail, which says why a loop resumed is exact; the candidates'
merge), each reading its inputs in order, once, with a state that depends only on the elements
read so far. Each run keeps its state every `STRIDE` steps (`Trail`); the next run resumes from
the last kept state whose inputs read so far equal the new ones' (a list comparison each, no
Python loop: the one part left linear in the lists' length) and steps through the rest. The
output is the plain functions' own (the loops are theirs, restarted; tests/replay/
test_gap_tail.py compares them on random interval lists, well formed or not), and a refresh
whose new samples move R and F only near the end of the lanes steps through that end and at
most `STRIDE` elements before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gapwatch.replay.detect import Candidates, merge_touching
from gapwatch.replay.iv_tail import STRIDE, Trail, complement, intersect, resume
from gapwatch.replay.resumed import same
from gapwatch.replay.signals import Iv, Tri


class GapTrail(NamedTuple):
    """The five loops' trails, in the order `gap` runs them."""

    not_definite: Trail
    not_possible: Trail
    possible: Trail
    definite: Trail
    candidates: Trail


def candidates(possible: Sequence[Iv], was: Trail | None = None) -> tuple[Candidates, Trail]:
    """detect.candidates_of(Tri(possible, ...)), resumed from `was` (a trail of it). Its
    output (`Trail.out`) is the Candidates; a state holds how many spans there were, the last
    one as it stood and how many pieces it had (the spans before it are closed: neither they
    nor their pieces change after)."""
    state, states = resume(was, lambda s: was is not None and same(possible, was.inputs[0], s[0]))
    spans: list[Iv]
    pieces: list[list[Iv]]
    closed = 0  # spans whose start and end are the old run's
    if state is None or was is None:
        i, spans, pieces = 0, [], []
    else:
        i, count, last, parts = state
        spans, pieces = was.out[0].spans[:count], was.out[0].pieces[:count]
        if count:
            spans[-1], pieces[-1] = last, pieces[-1][:parts]  # a copy: appended to below
        closed = max(count - 1, 0)
    n = len(possible)
    while i < n:
        if i % STRIDE == 0:
            states.append(
                (i, len(spans), spans[-1] if spans else None, len(pieces[-1]) if pieces else 0)
            )
        stop = min(i - i % STRIDE + STRIDE, n)
        merge_touching(possible, i, stop, spans, pieces)
        i = stop
    starts, ends = [c.start for c in spans[closed:]], [c.end for c in spans[closed:]]
    if closed and was is not None:
        starts = was.out[0].starts[:closed] + starts
        ends = was.out[0].ends[:closed] + ends
    out = Candidates(spans, pieces, starts, ends)
    return out, Trail((possible,), [out], states)


def gap(routed: Tri, serves: Tri, was: GapTrail | None = None) -> tuple[Tri, Candidates, GapTrail]:
    """`t_and(routed, t_not(serves))` and its `detect.candidates_of`, resumed from `was`."""
    not_definite, t1 = complement(serves.definite, was.not_definite if was else None)
    not_possible, t2 = complement(serves.possible, was.not_possible if was else None)
    possible, t3 = intersect(routed.possible, not_definite, was.possible if was else None)
    definite, t4 = intersect(routed.definite, not_possible, was.definite if was else None)
    merged, t5 = candidates(possible, was.candidates if was else None)
    return Tri(possible, definite), merged, GapTrail(t1, t2, t3, t4, t5)
