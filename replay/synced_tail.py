"""A probed F's steps as kube-proxy's looks place them (`syncorder.synced_on`), carried on from
what a node's last find gave instead of found again over every probed step.

`synced_on` maps each step to one step on its own: what it gives for step `j` is a function of
that step, of the items it reads of the node's forwarding set (`forwardable`), of kube-proxy's
looks (their list and their times) and of the quiet spans, and of the closures and bounds the
caller passes, nothing else (read it: no state runs from one step to the next). Each list is
read only by index, by bisecting it, by scanning it from an index found so or by slicing it,
by its length as such a scan's bound and by its emptiness (replay.sync_read says why that
suffices). A run here reads the four lists through `sync_read.Noted` and keeps, every `STRIDE`
steps, the largest index read of each so far, and of each list its length and its items up to
the last one read (a copy: what a look past them changes is read again). The next run resumes
at the last kept state `i` where

- the steps before `i` are the same (a list comparison: lane_tail carries them on, the same
  objects);
- each list now is, by value, the old one in its first `top + 1` items (`top` the largest
  index the steps before `i` read of it), and those steps read not its last item
  (`top <= len - 2`) unless the list is the same length (so every bisection, scan and bound
  gives what it gave; a list that was empty stays empty, a non-empty one non-empty);
- the caller's `key` is equal: the bounds, and everything the closures read (lanes.py gives
  the ready times `brought_back` reads; a health lane's `by_sync` is not carried).

The outputs before `i` are then the ones `synced_on` gives, and it runs on the steps from `i`
alone; what those earlier steps read is read again through the caller's lists, so a refresh's
notes (replay.sync_read) record the same largest indices as a find over every step. A refresh
whose new probe looks land at the lane's end finds the new steps and the few before them whose
reads reached the old lists' ends. Exact: tests/replay/test_synced_tail.py against
`synced_on` over every step. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple

from gapwatch.replay.signals import Iv, Step
from gapwatch.replay.sync_read import Noted
from gapwatch.replay.syncorder import synced_on
from gapwatch.replay.syncs import SyncIndex

#: steps between two kept states
STRIDE = 8


class SyncedTrail(NamedTuple):
    """`synced_on` over `steps`: its outputs, of the four lists it read (`forwardable`, the
    looks, their times, `quiet`) how long each was and its items up to the last one read
    (copies), and its kept states (steps read, then the largest index read of each list by
    the steps before), under `key`."""

    steps: Sequence[Step]
    out: list[Step]
    lengths: tuple[int, int, int, int]
    heads: tuple[list[Any], list[Any], list[Any], list[Any]]
    states: list[tuple[int, int, int, int, int]]
    key: Hashable


def _bare(items: Sequence[Any]) -> Sequence[Any]:
    """The list under `sync_read.Noted`s: read without noting."""
    while isinstance(items, Noted):
        items = items.items
    return items


def _reads_same(old_len: int, old_head: Sequence[Any], now: Sequence[Any], top: int) -> bool:
    """`now` reads as a list of `old_len` items starting with `old_head` did to a reader that
    read it up to index `top` (module docstring)."""
    if not old_len or not now:
        return not old_len and not now
    if top > old_len - 2 and len(now) != old_len:
        return False
    return top < 0 or now[: top + 1] == old_head[: top + 1]


def synced(
    steps: Sequence[Step],
    forwardable: Sequence[Step],
    looks: SyncIndex,
    reach_us: int,
    quiet: Sequence[Iv],
    span_us: int,
    back: Callable[[Step, Step], bool] | None,
    key: Hashable,
    was: SyncedTrail | None = None,
) -> tuple[list[Step], SyncedTrail | None]:
    """`synced_on(steps, forwardable, looks, reach_us, quiet, span_us=span_us, back=back)`,
    carried on from `was` (`key`: the bounds and what `back` reads, as the caller states it).
    None for a trail where there are no looks (`synced_on` then reads nothing)."""
    if not looks.looks:
        return list(steps), None
    full_key = (key, reach_us, span_us, back is None)
    lists = (forwardable, looks.looks, looks.times, quiet)
    bare = tuple(map(_bare, lists))
    start, states, out = 0, [], []
    if was is not None and was.key == full_key:
        for k in range(len(was.states) - 1, -1, -1):
            i, *tops = was.states[k]
            if (
                i <= len(steps)
                and (i == 0 or steps[:i] == was.steps[:i])
                and all(map(_reads_same, was.lengths, was.heads, bare, tops))
            ):
                start, states, out = i, list(was.states[: k + 1]), was.out[:i]
                # what the steps kept read, read again through the caller's lists (its notes)
                for items, top in zip(lists, tops, strict=True):
                    if top >= 0:
                        items[top]
                break
    f_seen, l_seen = Noted(forwardable), Noted(looks.looks)
    t_seen, q_seen = Noted(looks.times), Noted(quiet)
    seen: tuple[Noted[Any], ...] = (f_seen, l_seen, t_seen, q_seen)
    if states:
        _, *tops = states.pop()
        for noted, top in zip(seen, tops, strict=True):
            noted.top = top
    index = SyncIndex(l_seen, t_seen)
    n = len(steps)
    i = start
    while i < n:
        states.append((i, f_seen.top, l_seen.top, t_seen.top, q_seen.top))
        chunk = steps[i : i + STRIDE]
        out += synced_on(chunk, f_seen, index, reach_us, q_seen, span_us=span_us, back=back)
        i += len(chunk)
    states.append((i, f_seen.top, l_seen.top, t_seen.top, q_seen.top))
    lengths = (len(forwardable), len(looks.looks), len(looks.times), len(quiet))
    heads = tuple(list(items[: noted.top + 1]) for items, noted in zip(bare, seen, strict=True))
    trail = SyncedTrail(list(steps), out, lengths, heads, states, full_key)  # type: ignore[arg-type]
    return list(out), trail
