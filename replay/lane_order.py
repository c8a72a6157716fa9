"""A probe or LB lane in time order, carried on from the last time it was ordered.

`fold.sorted_lane` checks a lane's whole order on every call (a C pass over its times) and
sorts a lane out of time order whole (a late look: one makes the lane late for good), so a
refresh read every moved node's probe lanes whole, several times over (`observed`, the
suffix's floors, `detect.windows_from`'s target polls, `segment_tail.from_cut`): a pass per
sample that grows with the node's history. `in_time` gives what `sorted_lane` gives of the
fold's own lane and reads only the samples appended since its last call for that lane. Exact:
the fold appends to a lane and changes nothing in it (fold.keep_sample; a lane it forgets,
replay.shortcircuit, is dropped, and a new one is a new list), so where the lane is the list
the memo's entry read, its first `read` samples are the ones read then:

- an entry whose order was the lane itself (its times never fell) stands while the new
  samples' times do not fall from the last one read on (then `sorted_lane` gives the lane);
- an entry holding a sorted copy (the lane was out of time order: it stays so) goes on with the
  new samples sorted after it where none sorts before its last (a stable sort of the whole
  lane puts the new samples after the old ones with equal keys: they come later in the lane),
  else the lane is sorted whole, as `sorted_lane` does.

The entries are `fold.Memo.lane_order`, which `Memo.clear` keeps (the lanes only grow)."""

from __future__ import annotations

from gapwatch.replay.fold import AT_US, IN_TIME, FoldState, Sample, sorted_lane
from gapwatch.replay.model import ServiceRef


def in_time(state: FoldState, kind: str, svc: ServiceRef, node: str) -> list[Sample]:
    """`sorted_lane(state.probes[kind].get((svc, node), []))`, carried on (module docstring)."""
    lane = state.probes[kind].get((svc, node))
    if not lane:
        return []
    memo = state.memo.lane_order
    key = (kind, svc, node)
    was = memo.get(key)
    if was is None or was[0] is not lane or was[1] > len(lane):
        out = sorted_lane(lane)
    elif was[1] == len(lane):
        return was[2]
    else:
        read, before = was[1], was[2]
        if before is lane:
            times = list(map(AT_US, lane[read - 1 :]))
            out = lane if times == sorted(times) else sorted(lane, key=IN_TIME)
        else:
            new = sorted(lane[read:], key=IN_TIME)
            after = IN_TIME(new[0]) >= IN_TIME(before[-1])
            out = before + new if after else sorted(lane, key=IN_TIME)
    memo[key] = (lane, len(lane), out)
    return out
