"""A moved lane's segment rows from where its inputs changed on, not over its whole history.

A refresh from the checkpoint re-segments the lanes whose inputs grew (segments.moved_lanes).
Each lane's segments are its input samples' changes in the samples' order, each ending where
the next starts (segments.lane_changes); where that order is time order, the samples before an
instant `cut` give the same changes in the old input and the new, so the rows kept for the
lane (replay.segment_store: as the last write left them, with the lane versions they were
found from) that start before it stay as they are but the last one's end, and the lane goes
on from that row (its value, `seq` and `reach_before_us`) with the new input's samples from
`cut` on. The cut, per lane:

- endpoints and Node (their lists in arrival order, read as they are): the first new sample's
  time, where the list is in time order (the fold keeps them so, but for a Node deleted by an
  API request stamped before its last update);
- proxy from the NodePort or health-check probes, lb from the target polls (read in time
  order, late samples slotted in: fold.sorted_lane): the earliest new sample's time; an old
  sample at or after it (a late new one) is read again from the input, not kept. The lb
  lane's `absent` start at the Service's first poll must be there before and after, or not;
  the proxy lane's source (NodePort, else health check, else the endpoints) the same;
- pod (the node's pods merged: segments.pod_entries): the earliest entry of a pod whose
  samples grew, of a pod new to the node and of a pod gone from it; a grown pod's new update
  marked restarted enters at the old container's finishedAt, before the update's own time
  (the retroactive stop). Each pod's state before the cut is its last entry before it.

Elsewhere (a lane out of time order, a source switched, lane versions not kept, the proxy lane
without probes: replay.programmed_lane, whose node's sync metrics may move any change) the lane
is segmented whole, as before. What is left whole-history is C-level (the check of a probe
lane's order and, out of order, the pick of its samples from the cut on, of which only those
are sorted; the lb lane's earliest time before the fold), not a Python loop per sample or row.
Pure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from itertools import compress, islice
from operator import itemgetter
from typing import Any

from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import IN_TIME, FoldState, PodSample, Sample, sorted_lane
from gapwatch.replay.lane_order import in_time
from gapwatch.replay.model import Lane, Provenance, ServiceRef
from gapwatch.replay.segment_store import OPEN_US, KeptRows, segment_rows
from gapwatch.replay.segment_store import LaneTail as Tail
from gapwatch.replay.segments import (
    UNKNOWN,
    counted_pods,
    lane_changes,
    lane_segments,
    looked_between,
    moved_lanes,
    pod_entries,
    probe_proxy,
)

Row = tuple[Any, ...]
_AT = itemgetter(0)  # a sample's time
_START = itemgetter(4)  # a row's start_us (segment_store.COLUMNS)


def tails(
    state: FoldState,
    svc: ServiceRef,
    nodes: Sequence[str],
    kept: KeptRows,
    versions: dict[str, tuple[Any, ...]],
    settings: DetectSettings,
) -> dict[str, dict[str, Tail]] | None:
    """Per node of `nodes` (each with its rows in `kept`), each lane that moved since its
    kept rows were found: its rows from then on (`versions`: checkpoint.lane_versions now).
    None where the Service's first LB poll moved (every node's lb lane reads it)."""
    out: dict[str, dict[str, Tail]] = {}
    first = versions[""][0]
    for node in nodes:
        mine, now = kept[node], versions.get(node)
        if now is None or mine.first_poll != versions[""]:
            return None
        found: dict[str, Tail] = {}
        whole: set[Lane] = set()
        for lane in moved_lanes(mine.version, now):
            held = mine.lanes.get(lane, [])
            tail = _lane_tail(state, svc, node, lane, held, mine.version, now, first, settings)
            if tail is None:
                whole.add(lane)
            else:
                found[lane] = tail
        if whole:
            only = {node: frozenset(whole)}
            rows = segment_rows(lane_segments(state, svc, [node], settings, only))
            for lane in whole:
                found[lane] = Tail(0, [r for r in rows if r[1] == lane])
        out[node] = found
    return out


def _lane_tail(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    lane: Lane,
    held: Sequence[Row],
    was: tuple[Any, ...],
    now: tuple[Any, ...],
    first_poll: int | None,
    settings: DetectSettings,
) -> Tail | None:
    """The lane's rows from its cut on (module docstring); None: segment it whole."""
    key = (svc, node)
    eps = state.endpoints.get(key, [])
    if lane == "endpoints":
        return _listed(held, eps, was[0], str, "measured", 0, (node, lane))
    if lane == "node":
        ready = state.nodes.get((svc.cluster, node), [])
        return _listed(held, ready, was[4], str, "measured", 0, (node, lane))
    if lane == "proxy":
        source = _proxy_source(was)
        if source != _proxy_source(now):
            return None
        if source is None:
            return None  # as detection reads it, the syncs may move any change: whole
        kind, length = source
        probes = state.probes[kind].get(key, [])
        ordered = in_time(state, kind, svc, node)
        return _sorted(held, probes, ordered, was[length], probe_proxy(kind), (node, lane))
    if lane == "lb":
        targets = state.probes["target"].get(key, [])
        ordered = in_time(state, "target", svc, node)
        return _lb(held, targets, ordered, was[3], first_poll, (node, lane))
    if lane == "pod":
        return _pods(state, svc, held, dict(was[5]), dict(now[5]), (node, lane))
    return None


def _proxy_source(version: tuple[Any, ...]) -> tuple[str, int] | None:
    """What the proxy lane reads (segments._proxy_segments): the NodePort probes, else the
    health check's (their lane versions' index), else the endpoints (None)."""
    if version[2]:
        return ("nodeport", 2)
    return ("health", 1) if version[1] else None


def _listed(
    held: Sequence[Row],
    samples: list[Sample],
    length: int,
    mapping: Callable[[str], str],
    provenance: Provenance,
    lag_us: int,
    where: tuple[str, Lane],
) -> Tail | None:
    """A lane read in arrival order: from its first new sample on, where the list is in time
    order (then so was its first `length`)."""
    if length > len(samples) or sorted_lane(samples) is not samples:
        return None
    if length == len(samples):
        return Tail(len(held), [])
    cut = samples[length].at_us
    return _tail(held, cut, samples[length:], mapping, provenance, lag_us, where)


def _sorted(
    held: Sequence[Row],
    samples: list[Sample],
    ordered: list[Sample],
    length: int,
    mapping: Callable[[str], str],
    where: tuple[str, Lane],
) -> Tail | None:
    """A probe lane read in time order: from its earliest new sample on. `ordered`:
    `sorted_lane(samples)` (replay.lane_order carries it on): its samples from the cut on
    are `from_cut`'s, found by bisection (sorted by time first, the samples at or after the
    cut are its tail) instead of a pass over the whole lane."""
    if length > len(samples):
        return None
    if length == len(samples):
        return Tail(len(held), [])
    cut = min(map(_AT, samples[length:]))
    tail = ordered[bisect_left(ordered, cut, key=_AT) :]
    return _tail(held, cut, tail, mapping, "measured", 0, where, sampled=True)


def from_cut(samples: list[Sample], cut: int) -> list[Sample]:
    """The samples at or after `cut` as `sorted_lane(samples)` orders them. Out of time order
    only those are sorted (by sorted_lane's key): a stable sort keeps equal keys in list
    order, so they come as they do in the whole lane's sort (a late lane was sorted whole on
    every refresh)."""
    times = list(map(_AT, samples))
    if times == sorted(times):  # sorted_lane gives the lane as it is
        return samples[bisect_left(times, cut) :]
    return sorted(compress(samples, map(cut.__le__, times)), key=IN_TIME)


def _lb(
    held: Sequence[Row],
    targets: list[Sample],
    ordered: list[Sample],
    length: int,
    first_poll: int | None,
    where: tuple[str, Lane],
) -> Tail | None:
    """The lb lane from the target polls (segments._lb_samples): its `absent` start at the
    Service's first poll there before and after alike; a Service with no poll (CloudTrail's
    calls): whole."""
    if first_poll is None or length > len(targets):
        return None
    if length == len(targets):
        return Tail(len(held), [])
    absent_before = length == 0 or min(map(_AT, islice(targets, length))) > first_poll
    if absent_before != (min(map(_AT, targets)) > first_poll):
        return None
    return _sorted(held, targets, ordered, length, str.upper, where)


def _pods(
    state: FoldState,
    svc: ServiceRef,
    held: Sequence[Row],
    was: dict[str, int],
    now: dict[str, int],
    where: tuple[str, Lane],
) -> Tail | None:
    """The pod lane from the earliest entry that changed (module docstring)."""
    lanes: dict[str, list[PodSample]] = {
        pod: state.pods.get((svc.cluster, svc.namespace, pod), [])
        for pod in was.keys() | now.keys()
    }
    cut: int | None = None
    for pod, samples in lanes.items():
        old, new = was.get(pod), now.get(pod)
        if old is not None and new is not None and new < old:
            return None
        if new is None:  # gone from the node: its entries leave the lane
            changed = pod_entries(samples[: old or 0])
        else:
            changed = pod_entries(samples[:new], old or 0)
        if changed:
            first = min(map(_AT, changed))
            cut = first if cut is None else min(cut, first)
    if cut is None:
        return Tail(len(held), [])
    current: dict[str, str] = {}
    after: list[tuple[int, str, int, str, int]] = []
    for pod, count in now.items():
        samples = lanes[pod]
        if count and samples[count - 1].at_us < cut:
            top = max(map(_AT, islice(samples, count)))
            if top == samples[count - 1].at_us:  # every entry before the cut: the last one's
                current[pod] = samples[count - 1].state
                continue
        last: tuple[int, int, str, int] | None = None
        for entry in pod_entries(samples[:count]):
            if entry[0] >= cut:
                after.append((entry[0], pod, entry[1], entry[2], entry[3]))
            elif last is None or entry[:2] > last[:2]:
                last = entry
        if last is not None:
            current[pod] = last[2]
    return _tail(held, cut, counted_pods(after, current), str, "measured", 0, where)


def _tail(
    held: Sequence[Row],
    cut: int,
    samples: Sequence[Sample],
    mapping: Callable[[str], str],
    provenance: Provenance,
    lag_us: int,
    where: tuple[str, Lane],
    sampled: bool = False,
) -> Tail:
    """The held rows that start before `cut` (+ the lane's lag) kept, the last one's end
    moved to the next change's start, then the changes of `samples` (the input from `cut` on,
    in order), numbered and reaching on from the last kept row (segment_store.segment_rows).
    `sampled`: a probe or poll lane, its changes drawn with their sampling uncertainty
    (segments.looked_between): a last kept `UNKNOWN` row belongs to the change after the cut
    and goes with it, the lane going on from the value before it."""
    keep = bisect_left(held, cut + lag_us, key=_START)
    if sampled and keep > 1 and held[keep - 1][3] == UNKNOWN:
        keep -= 1
    last = held[keep - 1] if keep else None
    changes = lane_changes(samples, mapping, lag_us, None if last is None else last[3])
    if sampled:
        changes = looked_between(changes, None if last is None else last[4])
    node, lane = where
    rows: list[Row] = []
    seq, reach = -1, None
    if last is not None:
        keep -= 1
        end = changes[0][1] if changes else None
        rows.append((*last[:5], end, *last[6:]))
        seq, reach = last[2], _reach(last[10], end)
    for j, (value, start, earliest, eid) in enumerate(changes):
        end = changes[j + 1][1] if j + 1 < len(changes) else None
        seq += 1
        rows.append((node, lane, seq, value, start, end, earliest, start, provenance, eid, reach))
        reach = _reach(reach, end)
    return Tail(keep, rows)


def _reach(before: int | None, end: int | None) -> int:
    """The latest end of a lane's rows so far (`before`: of the earlier ones, None: none)."""
    mine = OPEN_US if end is None else end
    return mine if before is None else max(before, mine)
