"""Where a loop carried on from its last run resumes (replay.gap_tail, replay.lane_tail): each
run keeps the loop's state every few steps, the state's first element the number of input
elements read before it; the next run resumes from the last kept state whose elements read so
far equal the new input's. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def same(a: Sequence[Any], b: Sequence[Any], k: int) -> bool:
    """Whether `a` and `b` share their first `k` elements (one list comparison)."""
    return k <= len(a) and k <= len(b) and (k == 0 or a is b or a[:k] == b[:k])


def common_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    """The length of `a` and `b`'s longest common prefix (elements the same object or equal),
    found by list comparisons (C-level), from the ends back, where a refresh moves the lists,
    then by bisection: a list grown at its end costs two comparisons, not a Python step an
    element."""
    if a is b:
        return len(a)
    n = min(len(a), len(b))
    lo, hi, step = 0, n, 1  # a[:lo] == b[:lo]; a[:hi + 1] != b[:hi + 1] unless hi == n
    while hi > lo:
        m = max(hi - step, lo)
        if a[:m] == b[:m]:
            lo = m
            break
        hi, step = m, step * 2
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def resume_at(states: Sequence[Any], fits: Any) -> tuple[Any, list[Any]]:
    """The last of a loop's kept `states` that `fits`, and the states before it; (None, [])
    where none does. From the last state back: a refresh moves the lists' ends, so the last or
    the one before it fits."""
    k = len(states) - 1
    while k >= 0 and not fits(states[k]):
        k -= 1
    if k < 0:
        return None, []
    return states[k], list(states[:k])
