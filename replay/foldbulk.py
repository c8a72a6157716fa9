"""The fold's bulk path: probe and LB samples as numpy columns, grouped by lane (what
replay.load reads from PostgreSQL), folded into the same lanes replay.fold.fold builds from the
same facts. Pure.

`keep_sample` (replay.fold) keeps a sample that changes the value or that is earlier than the
last sample kept. Within a lane that runs forward in time that is "the value changed" (every
sample dropped since the last kept one has its value and a time at or after it), so only a
sample right after a step back in time needs the last kept time: those few are decided one by
one, everything else as whole columns, and the Python objects are built once for all lanes.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any, cast

import numpy as np

from gapwatch.replay.fold import (
    FoldState,
    ProbeKey,
    Sample,
    _changes,
    keep_sample,
    last_in_time,
    probe_lane,
)


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
    resumed: Any = None,
) -> FoldState:
    """Fold probe/LB samples given as numpy columns (the bulk path replay.load uses on
    PostgreSQL): `lane_of` indexes `lane_keys` ((fact, cluster, namespace, name, node)),
    `value_of` indexes `values`; -1 in `prev_us`/`num` is NULL; `resumed` (booleans, default
    none) marks the samples whose prev_us is the stored observation a restarted prober or
    poller resumed from (a `resume`, or its first change): they name no look gap. Builds the same
    lanes, `seen` and `look_gap` as `fold` does from the same facts."""
    state.memo.clear()
    if not len(at_us):
        return state
    if resumed is None:
        resumed = np.zeros(len(at_us), dtype=bool)
    order = _lane_order(lane_of, event_id)
    lane_of, at_us, prev_us = lane_of[order], at_us[order], prev_us[order]
    value_of, event_id, num = value_of[order], event_id[order], num[order]
    resumed = resumed[order]
    is_nodeport = np.array([k[0] == "nodeport" for k in lane_keys], dtype=bool)[lane_of]
    shift = is_nodeport & (num > 0)
    # a NodePort answer describes the moment the probe was sent, `latency` before it came
    sent = np.maximum(at_us - num, np.where(prev_us >= 0, prev_us, at_us - num))
    at_us = np.where(shift, sent, at_us)
    first = np.r_[True, lane_of[1:] != lane_of[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(lane_of)]
    keys = [lane_keys[i] for i in lane_of[starts].tolist()]
    lanes = [state.lanes.get(key) or probe_lane(state, key) for key in keys]
    _fill_prev(state, keys, starts, ends, at_us, prev_us)
    named = (prev_us >= 0) & ~resumed
    gaps = np.maximum.reduceat(np.where(named, at_us - prev_us, 0), starts).tolist()
    newest = np.maximum.reduceat(at_us, starts).tolist()
    is_health = np.array([k[0] == "health" for k in lane_keys], dtype=bool)[lane_of]
    keep = _keep(state, keys, lanes, starts, at_us, (value_of, num, is_health), values, first)
    late = _late_lanes(state, keys, starts, ends, at_us)
    for i in late:  # kept below one by one, as `fold` keeps them
        keep[starts[i] : ends[i]] = False
    kept = np.flatnonzero(keep)
    new = tuple.__new__
    # each column made in C: NULL (-1) as None, each value the same string object
    samples = [
        new(Sample, r)
        for r in zip(
            at_us[kept].tolist(),
            _or_none(prev_us[kept]),
            np.array(values, dtype=object)[value_of[kept]].tolist(),
            event_id[kept].tolist(),
            _or_none(num[kept]),
            strict=True,
        )
    ]
    columns = (at_us, prev_us, value_of, event_id, num, resumed)
    edges: Any = np.searchsorted(kept, np.r_[starts, len(lane_of)])
    bounds: list[int] = edges.tolist()
    for i, (key, lane) in enumerate(zip(keys, lanes, strict=True)):
        if i in late:
            _keep_one_by_one(state, key, lane, (int(starts[i]), int(ends[i])), columns, values)
            continue
        lane.extend(samples[bounds[i] : bounds[i + 1]])
        if bounds[i + 1] > bounds[i]:  # in time order, none earlier than a look folded before
            state.newest_kept[key] = len(lane) - 1
        if gaps[i] > state.look_gap.get(key, 0):
            state.look_gap[key] = gaps[i]
        state.seen[key] = max(newest[i], state.seen.get(key, newest[i]))
    state.last_event_id = max(state.last_event_id, int(event_id.max()))
    return state


def _or_none(column: Any) -> list[int | None]:
    """An integer column's values as Python ints, None where negative (-1 stands for NULL)."""
    out = column.astype(object)
    out[column < 0] = None
    return cast(list[int | None], out.tolist())


def _lane_order(lane_of: Any, event_id: Any) -> Any:
    """The rows by lane, each lane's in event id order: rows read in that order (ids rising)
    sort stably by lane alone; the others by lane and id, which is what the stable sort gives
    too wherever a lane's ids already rise (no sort by lane made and thrown away for them)."""
    if np.all(event_id[1:] > event_id[:-1]):
        return np.argsort(lane_of, kind="stable")
    return np.lexsort((event_id, lane_of))


def _late_lanes(
    state: FoldState, keys: Sequence[ProbeKey], starts: Any, ends: Any, at_us: Any
) -> set[int]:
    """The lanes with a sample earlier than a look already folded (a late answer): they may
    need `keep_sample`'s restoring sample, so they are kept one by one. A sample is earlier
    than the newest look before it (the lane's `seen`, or a sample before it in the lane)
    exactly when it is earlier than `seen` or than the sample right before it (times that
    never step back make the previous one the newest): both read as whole columns."""
    seen = np.array([state.seen.get(key, -1) for key in keys], dtype=np.int64)
    below = at_us < np.repeat(seen, ends - starts)
    back = np.r_[False, at_us[1:] < at_us[:-1]]
    back[starts] = False  # a lane's first sample follows another lane's last
    late = np.logical_or.reduceat(below | back, starts)
    return set(np.flatnonzero(late).tolist())


def _keep_one_by_one(
    state: FoldState,
    key: ProbeKey,
    lane: list[Sample],
    rows: tuple[int, int],
    columns: tuple[Any, ...],
    values: Sequence[str],
) -> None:
    """The lane's rows [lo, hi) as `keep_sample` keeps them in order: the late ones (earlier
    than a look before them) through it, each run of the others at once (`_keep_run`). On
    replay.py's store 350 lanes hold 107,100 rows of which 4,900 are late (benchmarks/README.md,
    "Session 27: replay")."""
    lo, hi = rows
    at_us, prev_us, value_of, event_id, num, resumed = (c[lo:hi] for c in columns)
    floor = state.seen.get(key, -1)
    if lane:
        floor = max(floor, last_in_time(state, key, lane).at_us)
    # at or after every look before it, kept or not: keep_sample's "changed" decides it
    ontime = at_us >= np.maximum.accumulate(np.r_[floor, at_us[:-1]])
    health = key[0] == "health"
    changed = (value_of[1:] != value_of[:-1]) | (health & (num[1:] != num[:-1]))
    named = np.where((prev_us >= 0) & ~resumed, at_us - prev_us, 0)
    edges = np.flatnonzero(np.r_[True, ontime[1:] != ontime[:-1], True]).tolist()
    cells = (at_us.tolist(), prev_us.tolist(), value_of.tolist(), event_id.tolist(), num.tolist())
    res = resumed.tolist()
    for a, b in pairwise(edges):
        if ontime[a]:
            _keep_run(state, key, lane, (a, b), cells, values, changed, int(named[a:b].max()))
            continue
        for r in range(a, b):
            keep_sample(state, key, lane, _row_sample(cells, r, values), interval=not res[r])


def _row_sample(cells: tuple[list[Any], ...], r: int, values: Sequence[str]) -> Sample:
    at, prev, value, eid, n = (c[r] for c in cells)
    row = (at, None if prev < 0 else prev, values[value], eid, None if n < 0 else n)
    return tuple.__new__(Sample, row)  # without its constructor's Python frame (the bulk path)


def _keep_run(
    state: FoldState,
    key: ProbeKey,
    lane: list[Sample],
    run: tuple[int, int],
    cells: tuple[list[Any], ...],
    values: Sequence[str],
    changed: Any,
    gap: int,
) -> None:
    """Rows [a, b) of a lane, each at or after every look before it (so never earlier than the
    last kept sample, nor a late answer), as `keep_sample` keeps them: the first when it
    changes the lane's newest sample, each next when it changes the row before it (a dropped
    row repeats the newest kept one); `gap` is the run's longest look gap."""
    a, b = run
    kept = [r + 1 for r in np.flatnonzero(changed[a : b - 1]).tolist()]
    first = _row_sample(cells, a, values)
    size = len(lane)
    if not lane or _changes(key, first, last_in_time(state, key, lane)):
        lane.append(first)
    lane.extend(_row_sample(cells, a + r, values) for r in kept)
    if len(lane) > size:  # each newest in time, as `appended` says
        state.newest_kept[key] = len(lane) - 1
    if gap > state.look_gap.get(key, 0):
        state.look_gap[key] = gap
    newest = cells[0][b - 1]
    state.seen[key] = max(newest, state.seen.get(key, newest))


def _fill_prev(
    state: FoldState,
    keys: Sequence[ProbeKey],
    starts: Any,
    ends: Any,
    at_us: Any,
    prev_us: Any,
) -> None:
    """Samples stored without previous_observed_at: the previous look (repeats included, the
    lane's newest so far) saw the old value, as `keep_sample` does. In place."""
    missing = prev_us < 0
    if not missing.any():
        return
    for i in np.flatnonzero(np.logical_or.reduceat(missing, starts)).tolist():
        lo, hi = int(starts[i]), int(ends[i])
        times, prevs = at_us[lo:hi], prev_us[lo:hi]
        before = state.seen.get(keys[i], -1)
        looks = np.maximum(np.r_[before, np.maximum.accumulate(times)[:-1]], before)
        prev_us[lo:hi] = np.where((prevs < 0) & (looks >= 0) & (looks < times), looks, prevs)


def _keep(
    state: FoldState,
    keys: Sequence[ProbeKey],
    lanes: Sequence[list[Sample]],
    starts: Any,
    at_us: Any,
    read: tuple[Any, Any, Any],
    values: Sequence[str],
    first: Any,
) -> Any:
    """Which samples `keep_sample` keeps: a new value (on a health-check lane, or a new count:
    `read` is the value, num and health-lane columns), or earlier than the last kept sample."""
    value_of, num, is_health = read
    changed = (value_of[1:] != value_of[:-1]) | (is_health[1:] & (num[1:] != num[:-1]))
    keep = first | np.r_[True, changed]
    firsts = zip(
        starts.tolist(), at_us[starts].tolist(), value_of[starts].tolist(),
        num[starts].tolist(), strict=True,
    )  # fmt: skip
    for key, lane, (lo, at, value, n) in zip(keys, lanes, firsts, strict=True):
        if lane:  # the lane's newest sample (an earlier fold) is the last kept one
            last = last_in_time(state, key, lane)
            count = None if n < 0 else n
            keep[lo] = (
                at < last.at_us
                or values[value] != last.value
                or (key[0] == "health" and count != last.num)
            )
    back = np.r_[False, at_us[1:] < at_us[:-1]] & ~first & ~keep
    if not back.any():
        return keep
    # a repeat right after a step back in time: kept when earlier than the last kept sample,
    # decided in order (each decision moves "the last kept sample" for the next)
    last_kept = np.maximum.accumulate(np.where(keep, np.arange(len(keep)), -1))
    decide = np.flatnonzero(back)
    lane_at = (np.searchsorted(starts, decide, side="right") - 1).tolist()
    latest: dict[int, int] = {}  # lane -> the last index kept by a decision below
    for r, lane_i in zip(decide.tolist(), lane_at, strict=True):
        before = max(int(last_kept[r - 1]), latest.get(lane_i, -1))
        # nothing kept in this fold yet: the lane's last sample is the last kept one
        mine = before >= int(starts[lane_i])
        last_at = int(at_us[before]) if mine else lanes[lane_i][-1].at_us
        if at_us[r] < last_at:
            keep[r] = True
            latest[lane_i] = r
    return keep
