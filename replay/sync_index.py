"""A node's kube-proxy metrics looks in time order with their times (`syncs.SyncIndex`),
carried on from the last time they were indexed, instead of listed and checked whole.

`syncs.index_looks` lists every look's time and checks (or sorts) the whole lane, a Python
step a look, and F (replay.lanes), the proxy lane's segments (replay.programmed_lane) and the
metrics-only lags (replay.lags) asked it for a moved node's whole lane on every refresh: where
kube-proxy is scraped every 30 s, 2,880 looks a node a day (benchmarks/README.md, "Session 33:
refresh, round 2"). `indexed` gives what `index_looks` gives of the fold's own lane
(`FoldState.syncs`) and reads only the looks appended since its last call for that node.
Exact: the fold appends to a node's looks and changes none (fold.py, the `sync` facts), so
where the lane is the list the entry read, its first `read` looks are the ones read then:

- an entry whose order was the lane itself (its times never fell) stands while the new looks'
  times do not fall from the last one read on; its times list grows by theirs (in place: it
  is the entry's own, and an index given earlier holds the same growing lane);
- an entry holding a sorted copy (the lane was out of time order: it stays so) goes on with the
  new looks sorted after it where none sorts before its last (`index_looks`' stable sort puts
  them after the old ones with equal times: they come later in the lane), as new lists (a
  reader carrying on from the copy's identity, replay.sync_tail, reads it whole as before);
- anything else is `index_looks` of the whole lane.

The entries are `fold.Memo.sync_index`, which `Memo.clear` keeps (the lanes only grow).
Tested against `index_looks` batch by batch in tests/replay/test_sync_index.py. Pure."""

from __future__ import annotations

from operator import attrgetter

from gapwatch.replay.fold import FoldState, SyncLook
from gapwatch.replay.syncs import SyncIndex, index_looks

_AT = attrgetter("at_us")


def indexed(state: FoldState, where: tuple[str, str]) -> SyncIndex:
    """`index_looks(state.syncs.get(where, []))` of the node `where` (cluster, node), carried
    on from the last call's (module docstring)."""
    lane = state.syncs.get(where)
    if not lane:
        return index_looks([])
    was: tuple[list[SyncLook], int, SyncIndex] | None = state.memo.sync_index.get(where)
    # how many of the lane's looks the entry read (0: none of this list's)
    read = was[1] if was is not None and was[0] is lane and was[1] <= len(lane) else 0
    if was is not None and read == len(lane):
        return was[2]
    out = _carried(lane, read, was[2]) if was is not None and read else index_looks(lane)
    state.memo.sync_index[where] = (lane, len(lane), out)
    return out


def _carried(lane: list[SyncLook], read: int, before: SyncIndex) -> SyncIndex:
    """`index_looks(lane)` from `before`, the index of its first `read` looks."""
    ordered, times = before
    if ordered is lane:
        new = list(map(_AT, lane[read:]))
        if new[0] >= times[-1] and new == sorted(new):
            assert isinstance(times, list)  # the entry's own (index_looks lists them)
            times += new
            return SyncIndex(lane, times)
        return index_looks(lane)
    fresh = sorted(lane[read:], key=_AT)
    if fresh[0].at_us >= times[-1]:
        return SyncIndex([*ordered, *fresh], [*times, *map(_AT, fresh)])
    return index_looks(lane)
