"""How far F read a node's kube-proxy metrics looks and its sync spans, so that a refresh whose
new scrapes cannot move what F read keeps F without finding it again.

A scrape of a node's kube-proxy appends a look to the node's lane (`FoldState.syncs`) and moves
the `node_key` of every Service on the node; F (replay.lanes.serves_carried) reads the looks
(`syncs.SyncIndex`) and the spans derived from them (replay.sync_tail: quiet, unbegun) through
many readers: `syncorder._bounded` and `_opened`, `syncs.done_look` and `_not_yet` (via
`programmed`), `synccount.outside_quiet`, `unseen._never_read`, `deaths._unsynced`,
`syncedup.programmed_by`, `inferred_forwarding`. Rather than a bound per reader, F's find hands
them the three lists through `Noted`, which notes the largest index any of them read
(`SyncNotes`); the find records it (`SyncRead`). Each list is sorted (the looks by time: only a
lane in time order is kept; the spans by start, as every reader that bisects them needs), and
every reader reads a list only by index, by bisecting it, by scanning it from an index found
so, and by its length as the bound of such a scan or to test emptiness (read them: none uses
the length as a value). So where a list now is, by value, the recorded one in its first
`top + 1` items, and its reader never read its last item (`top <= len - 2`):

- every bisection gave the same index: it lies at or before `top` (a bisection that gives the
  old length, or its last index, compares that last item), the items up to it are the same,
  and the list is still sorted;
- every scan stopped where it did: it stopped before the old last item, at the same items;
- every emptiness test answers the same (a non-empty list stays non-empty; an empty one must
  stay empty).

Every reader then reads the same items in the same order, and F, a function of them and of what
the node's and the Service's keys hold (which a scrape does not move: node_cache
`moved_syncs_only`), is the value it was. A new look appended to a lane in time order leaves
the old looks where they were (the fold changes none); the spans are compared by value. A
reader that reads to the old end (a change not yet synced at the old looks' end, a run left
open, a scan of every look) notes the last item: that node's F is found again on the next
scrape, as before. Exact: tests/replay/test_sync_read.py against `detect` and a rebuild.
Pure."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, TypeVar, overload

from gapwatch.replay.fold import FoldState, SyncLook
from gapwatch.replay.signals import Iv
from gapwatch.replay.sync_index import indexed
from gapwatch.replay.syncs import SyncIndex

T = TypeVar("T")


class Noted(Sequence[T]):
    """`items`, read through: `top` is the largest index read so far (-1: none)."""

    __slots__ = ("items", "top")

    def __init__(self, items: Sequence[T]) -> None:
        self.items = items
        self.top = -1

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[T]: ...
    def __getitem__(self, i: int | slice) -> T | Sequence[T]:
        items = self.items
        if isinstance(i, slice):
            lo, hi, step = i.indices(len(items))
            last = (
                (lo + (hi - lo - 1) // step * step if hi > lo else -1)
                if step > 0
                else (lo if lo > hi else -1)
            )
        else:
            last = i + len(items) if i < 0 else i
        if last > self.top:
            self.top = min(last, len(items) - 1)
        return items[i]

    def __iter__(self) -> Iterator[T]:
        self.top = len(self.items) - 1
        return iter(self.items)

    def __reversed__(self) -> Iterator[T]:
        self.top = len(self.items) - 1
        return reversed(self.items)

    def __contains__(self, value: object) -> bool:
        self.top = len(self.items) - 1
        return value in self.items


class SyncRead(NamedTuple):
    """What one find of F read: the node's looks (the fold's lane itself, in time order, or
    None: not kept) and how many there were, the spans as they were, and per list the largest
    index read."""

    lane: Sequence[SyncLook] | None
    looks: int
    looks_top: int
    quiet: Sequence[Iv]
    quiet_top: int
    unbegun: Sequence[Iv]
    unbegun_top: int


class SyncNotes:
    """The lists one find of F reads, each `Noted` (`wrap`), and what it read of them
    (`read`, once the find returned)."""

    def __init__(self) -> None:
        self.lane: Sequence[SyncLook] | None = None
        self.looks: Noted[SyncLook] | None = None
        self.times: Noted[int] | None = None
        self.quiet: Noted[Iv] | None = None
        self.unbegun: Noted[Iv] | None = None

    def wrap(
        self, state: FoldState, where: tuple[str, str], looks: SyncIndex,
        quiet: Sequence[Iv], unbegun: Sequence[Iv],
    ) -> tuple[SyncIndex, Sequence[Iv], Sequence[Iv]]:  # fmt: skip
        """`looks`, `quiet` and `unbegun` read through `Noted`; the node's lane kept where
        `looks` is that lane itself (in time order)."""
        lane = state.syncs.get(where)
        self.lane = lane if lane is not None and looks.looks is lane else None
        self.looks, self.times = Noted(looks.looks), Noted(looks.times)
        self.quiet, self.unbegun = Noted(quiet), Noted(unbegun)
        return SyncIndex(self.looks, self.times), self.quiet, self.unbegun

    def read(self) -> SyncRead | None:
        """What the find read (None: it read no looks, or not from a lane in time order)."""
        if self.lane is None or self.looks is None or self.times is None:
            return None
        assert self.quiet is not None and self.unbegun is not None
        return SyncRead(
            self.lane, len(self.lane), max(self.looks.top, self.times.top),
            self.quiet.items, self.quiet.top, self.unbegun.items, self.unbegun.top,
        )  # fmt: skip


def unmoved(
    state: FoldState, where: tuple[str, str], read: SyncRead, quiet: Sequence[Iv],
    unbegun: Sequence[Iv],
) -> bool:  # fmt: skip
    """Whether every reader of F would read the same items of the node's looks and spans now
    (`quiet`, `unbegun`: the node's spans now, replay.sync_tail) as in the find `read`
    records (module docstring)."""
    lane = state.syncs.get(where)
    if lane is None or lane is not read.lane or indexed(state, where).looks is not lane:
        return False  # another list, or no longer in time order
    return (
        _before_last(read.looks, read.looks_top)
        and _same_head(read.quiet, read.quiet_top, quiet)
        and _same_head(read.unbegun, read.unbegun_top, unbegun)
    )


def _before_last(size: int, top: int) -> bool:
    """A list of `size` items, none at or after the last read (an empty one read as empty)."""
    return top <= size - 2 if size else False


def _same_head(was: Sequence[Iv], top: int, now: Sequence[Iv]) -> bool:
    """`now` reads as `was` did to a reader that read `was` up to `top`."""
    if not was:
        return not now
    return top <= len(was) - 2 and list(now[: top + 1]) == list(was[: top + 1])
