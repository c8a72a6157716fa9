"""Interval loops carried on from their last run (replay.gap_tail: a moved node's R and not F;
replay.lane_tail: F's own combining, `minus_definite(t_and(tri, exists), gaps)`), instead of
over the whole interval lists each refresh.

`signals.complement` and `signals.intersect` are each one loop reading its inputs in order,
once, with a state (its cursor or indexes, how much it has output) that depends only on the
elements read so far. Where a loop's new inputs begin with the elements its last run read to
reach a state, the new run passes through that state with the same output up to it: it resumes
there. Each run keeps its state every `STRIDE` steps (`Trail`); the next run resumes from the
last kept state whose inputs read so far equal the new ones' (a list comparison each, no Python
loop: replay.resumed) and steps through the rest. The output is the plain functions' own,
whatever the lists hold (tests/replay/test_gap_tail.py compares them on random interval lists,
well formed or not). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from gapwatch.replay.resumed import resume_at, same
from gapwatch.replay.signals import HI, LO, Iv, intersect_run

#: steps between two kept states (a moved node's lists hold tens to hundreds of intervals, ~10
#: more a round in benchmarks/refresh_rounds.py)
STRIDE = 8


class Trail(NamedTuple):
    """One loop's inputs, output and kept states (each state: what the loop holds before a
    step, the step's index first)."""

    inputs: tuple[Sequence[Any], ...]
    out: list[Any]
    states: list[tuple[Any, ...]]


def resume(was: Trail | None, fits: Any) -> tuple[tuple[Any, ...] | None, list[Any]]:
    """The last kept state of `was` that `fits` (its inputs' elements read up to it are the
    new ones'), and the states before it; (None, []) where none does."""
    return resume_at(was.states if was is not None else [], fits)


def complement(a: Sequence[Iv], was: Trail | None = None) -> tuple[list[Iv], Trail]:
    """signals.complement(a), resumed from `was` (a trail of it)."""
    # the state before element i reads a[:i]
    state, states = resume(was, lambda s: was is not None and same(a, was.inputs[0], s[0]))
    if state is None or was is None:
        i, cursor, cursor_eid, out = 0, LO, 0, []
    else:
        i, cursor, cursor_eid, length = state
        out = was.out[:length]
    n = len(a)
    while i < n:
        if i % STRIDE == 0:
            states.append((i, cursor, cursor_eid, len(out)))
        iv = a[i]
        if iv.start > cursor:
            out.append(Iv(cursor, iv.start, cursor_eid, iv.start_eid))
        cursor, cursor_eid = max(cursor, iv.end), iv.end_eid
        i += 1
    done = list(out)
    if cursor < HI:
        done.append(Iv(cursor, HI, cursor_eid, 0))
    return done, Trail((a,), out, states)


def intersect(a: Sequence[Iv], b: Sequence[Iv], was: Trail | None = None) -> tuple[list[Iv], Trail]:
    """signals.intersect(a, b), resumed from `was` (a trail of it)."""
    # the state before a step at (i, j) has read at most a[:i + 1] and b[:j + 1]
    state, states = resume(
        was,
        lambda s: (
            was is not None
            and same(a, was.inputs[0], s[1] + 1)
            and same(b, was.inputs[1], s[2] + 1)
        ),
    )
    if state is None or was is None:
        step, i, j, out = 0, 0, 0, []
    else:
        step, i, j, length = state
        out = was.out[:length]
    # each step moves i or j on by one: the step's index is i + j
    while i < len(a) and j < len(b):
        if step % STRIDE == 0:
            states.append((step, i, j, len(out)))
        i, j = intersect_run(a, b, i, j, out, step - step % STRIDE + STRIDE)
        step = i + j
    return list(out), Trail((a, b), out, states)
