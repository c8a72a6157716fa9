"""The fold's bulk path: probe and LB samples as numpy columns, grouped by lane (what
replay.load reads from PostgreSQL), folded into the same lanes replay.fold.fold builds from the
same facts. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gapwatch.replay.fold import FoldState, ProbeKey, Sample, keep_sample, probe_lane


def fold_probe_arrays(
    state: FoldState,
    lane_keys: Sequence[ProbeKey],
    lane_of: Any,
    at_us: Any,
    prev_us: Any,
    value_of: Any,
    values: Sequence[str],
    event_id: Any,
    num: Any,
) -> FoldState:
    """Fold probe/LB samples given as numpy columns (the bulk path replay.load uses on
    PostgreSQL): `lane_of` indexes `lane_keys` ((fact, cluster, namespace, name, node)),
    `value_of` indexes `values`; -1 in `prev_us`/`num` is NULL. Builds the same lanes as `fold`
    does from the same facts, vectorized where a lane is in time order."""
    state.memo.clear()
    if not len(at_us):
        return state
    order = np.argsort(lane_of, kind="stable")  # rows mostly come in event id order already
    grouped = lane_of[order]
    ids = event_id[order]
    if np.any((ids[1:] <= ids[:-1]) & (grouped[1:] == grouped[:-1])):
        order = np.lexsort((event_id, lane_of))
    lane_of, at_us, prev_us = lane_of[order], at_us[order], prev_us[order]
    value_of, event_id, num = value_of[order], event_id[order], num[order]
    is_nodeport = np.array([k[0] == "nodeport" for k in lane_keys], dtype=bool)[lane_of]
    shift = is_nodeport & (num > 0)
    # a NodePort answer describes the moment the probe was sent, `latency` before it came
    sent = np.maximum(at_us - num, np.where(prev_us >= 0, prev_us, at_us - num))
    at_us = np.where(shift, sent, at_us)
    first = np.r_[True, lane_of[1:] != lane_of[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(lane_of)]
    # within a lane in time order, a sample that repeats the previous value is a heartbeat
    keep = first | np.r_[True, value_of[1:] != value_of[:-1]]
    backwards = np.r_[False, (at_us[1:] < at_us[:-1]) & ~first[1:]]
    newest = np.maximum.reduceat(at_us, starts)
    new = tuple.__new__
    for i, (lo, hi) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        key = lane_keys[int(lane_of[lo])]
        lane = state.lanes.get(key) or probe_lane(state, key)
        times, prevs = at_us[lo:hi], prev_us[lo:hi]
        if (prevs < 0).any():
            # stored without previous_observed_at: the previous look saw the old value (as
            # `keep_sample` does: the newest look so far, if earlier)
            looks = np.r_[state.seen.get(key, -1), np.maximum.accumulate(times)[:-1]]
            looks = np.maximum(looks, state.seen.get(key, -1))
            prevs = np.where((prevs < 0) & (looks >= 0) & (looks < times), looks, prevs)
            prev_us[lo:hi] = prevs
        gap = int(np.max(np.where(prevs >= 0, times - prevs, 0)))
        if gap > state.look_gap.get(key, 0):
            state.look_gap[key] = gap
        if lane and values[int(value_of[lo])] == lane[-1].value and at_us[lo] >= lane[-1].at_us:
            keep[lo] = False  # continues the value this lane already ends with
        if (lane and at_us[lo] < lane[-1].at_us) or backwards[lo:hi].any():
            idx = np.arange(lo, hi)  # out of time order: the sample-by-sample rule
        else:
            idx = lo + np.flatnonzero(keep[lo:hi])
        rows = zip(
            at_us[idx].tolist(),
            [None if p < 0 else p for p in prev_us[idx].tolist()],
            [values[v] for v in value_of[idx].tolist()],
            event_id[idx].tolist(),
            [None if n < 0 else n for n in num[idx].tolist()],
            strict=True,
        )
        if len(idx) == hi - lo:
            for r in rows:
                keep_sample(state, key, lane, new(Sample, r))
        else:
            lane.extend(new(Sample, r) for r in rows)
        seen = int(newest[i])
        state.seen[key] = max(seen, state.seen.get(key, seen))
    state.last_event_id = max(state.last_event_id, int(event_id.max()))
    return state
