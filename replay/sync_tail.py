"""A node's quiet and unbegun spans (replay.synccount) carried on from its last find, instead
of over its whole kube-proxy metrics lane each time F is found again.

`quiet_spans` and `unbegun_spans` read the node's counted looks in order, pair by pair, a
Python step a look: where the metrics are scraped every 30 s, 2,880 looks a node a day, and
each refresh that moves the node read them all (benchmarks/README.md, "Session 33: refresh":
3-7 us a look). The fold appends a node's looks (`FoldState.syncs`) and changes none, and
`syncs.index_looks` gives that list itself where it is in time order; there the looks read
last time are the first `read` of it, so:

- the counted looks are the old ones and those of the new looks, and each pair's spans (and
  unbegun's run state after it) depend only on the pair and the state before: the loops go on
  from the last pair read (synccount.quiet_raw, unbegun_run);
- quiet's spans are sorted by start (a stable sort): where the new pairs' spans sort at or
  after the old ones' last, the sorted list is the old one and theirs;
- quiet's join reads each span's end in the looks' times (`answered_at`, the last look of
  equal times): where every new look comes after every old look and old span's end, no old
  end's answer moved, and the join goes on from the old joined spans' last.

Anything else (another list: out of time order, another settings' span or skew) is read whole.
The trails are kept in `fold.Memo.sync_spans`, which `Memo.clear` keeps (the lanes only
grow). Exact: tests/replay/test_sync_tail.py compares with the plain functions. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gapwatch.replay.fold import FoldState, SyncLook
from gapwatch.replay.signals import Iv
from gapwatch.replay.synccount import (
    _START,
    Counted,
    answered_at,
    counted_looks,
    joined,
    quiet_raw,
    unbegun_run,
)


class SpansTrail(NamedTuple):
    """What the last call read: the looks (the fold's list itself), how many, their counted
    ones, quiet's spans (as found, sorted, joined) and the largest end among them, the
    looks' answers by time, unbegun's spans and its state after the last pair, under
    `(span_us, skew_us)`."""

    looks: Sequence[SyncLook]
    read: int
    counted: list[Counted]
    raw: list[Iv]
    ordered: list[Iv]
    quiet: list[Iv]
    reach: int | None
    answered: dict[int, int]
    unbegun: list[Iv]
    start: int | None
    key: tuple[int, int]


def spans(
    state: FoldState, where: tuple[str, str], looks: Sequence[SyncLook], span_us: int, skew_us: int
) -> tuple[list[Iv], list[Iv]]:
    """`(quiet_spans(looks, ...), unbegun_spans(looks, ...))` of the node `where` (cluster,
    node), carried on from the last call's (module docstring)."""
    if not looks:  # no metrics scraped (sync_index gives a new empty list each time): none
        return [], []
    key = (span_us, skew_us)
    was = state.memo.sync_spans.get(where)
    if was is None or was.looks is not looks or was.read > len(looks) or was.key != key:
        was = None
    if was is not None and was.read == len(looks):
        return was.quiet, was.unbegun
    read = was.read if was is not None else 0
    new = looks[read:]
    # the trail's own lists and map grow in place (the trail is replaced by the new one;
    # `quiet` and `unbegun` are new lists: callers keep them)
    counted = was.counted if was is not None else []
    first = max(len(counted), 1)
    counted += counted_looks(new)
    raw_new = quiet_raw(counted, first, span_us, skew_us)
    unbegun = list(was.unbegun) if was is not None else []
    start = unbegun_run(counted, first, was.start if was is not None else None, span_us,
                        skew_us, unbegun)  # fmt: skip
    fresh = sorted((iv for iv in raw_new if iv.end > iv.start), key=_START)
    raw = was.raw if was is not None else []
    raw += raw_new
    carried = (
        was is not None
        and (not fresh or not was.ordered or fresh[0].start >= was.ordered[-1].start)
        and new[0].at_us > _latest(was)  # (in time order: `looks` is index_looks' own lane)
    )
    if carried and was is not None:
        ordered, answered = was.ordered, was.answered
        ordered += fresh
        answered.update(answered_at(new))
        quiet = joined(fresh, answered, list(was.quiet))
    else:
        ordered = sorted((iv for iv in raw if iv.end > iv.start), key=_START)
        answered = answered_at(looks)
        quiet = joined(ordered, answered)
    reach = max((iv.end for iv in fresh), default=was.reach if was is not None else None)
    if was is not None and was.reach is not None and reach is not None:
        reach = max(reach, was.reach)
    state.memo.sync_spans[where] = SpansTrail(
        looks, len(looks), counted, raw, ordered, quiet, reach, answered, unbegun, start, key
    )
    return quiet, unbegun


def _latest(was: SpansTrail) -> int:
    """The latest instant the old join read an answer at: the old looks' last time (they are
    in time order) and the old spans' largest end."""
    last = was.looks[was.read - 1].at_us if was.read else -(2**62)
    return last if was.reach is None else max(last, was.reach)
