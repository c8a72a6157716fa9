"""Observer clock offsets, estimated from causality: a reaction is never seen before its cause.

The prober (NodePort and health-check-node-port) and the LB poller stamp samples with their own
clocks; the EndpointSlices carry the recorder's watch time. Every change an observer sees that
needs an endpoint state (a health check answering 200 or a NodePort connecting needs a ready
local endpoint, a 503 counting none needs none ready, a target turning healthy needs a ready
endpoint) is a reaction: that endpoint state held, in the recorder's time, somewhere between the
observer's previous change and this one (it began there: the observers act on the
EndpointSlices in order). An
observer whose clock is *behind* shows reactions before their causes; the offset is the
smallest shift (towards zero) that explains the most reactions, searched within
`clock_offset_max_s`; it is used only where it explains `min_measurements` more reactions than
no offset does and the unexplained ones lie further apart than `clock_offset_max_s` (an
EndpointSlice batch the watch saw late leaves a few, close together). It is a lower bound on
how far behind the clock is: reactions slower than the offset never show it. An observer
whose clock is *ahead* looks like a slower kube-proxy or LB: causality cannot tell, so no
offset is estimated that way (`clock_skew_s` widens the bounds for that). A found offset
shifts the observer's samples (`corrected`) and, being only a lower bound, widens their bounds
by as much (replay.observed.observed). A long tail of EndpointSlice watch delays mimics a clock
behind (4 of 1,999 development scenarios, one of them a certain false window), so the
estimate is opt-in: `clock_offset_max_s` is 0 (off) by default. Pure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import pairwise

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState, Sample, sorted_lane
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.trailclock import poller_offset

#: The observers whose clocks are estimated, with the sample kinds each one stamps.
OBSERVERS: dict[str, tuple[str, ...]] = {"prober": ("nodeport", "health"), "poller": ("target",)}
_READY = frozenset({"ready"})
_SERVING = frozenset({"ready", "serving-terminating"})
_NOT_READY = frozenset({"serving-terminating", "none"})


def observer_of(kind: str) -> str:
    return next(name for name, kinds in OBSERVERS.items() if kind in kinds)


def clock_offset(state: FoldState, cluster: str, observer: str, settings: DetectSettings) -> int:
    """The observer's clock minus the recorder's, in microseconds (0 when the data shows none
    or estimation is off)."""
    key = (cluster, observer, settings)
    if key not in state.memo.clock:
        # the poller against CloudTrail (the same transition seen by both) is direct evidence:
        # used whenever it shows an offset, before the causal estimate (opt-in)
        trail = poller_offset(state, cluster, settings) if observer == "poller" else 0
        found = trail or _estimate(state, cluster, OBSERVERS[observer], settings)
        state.memo.clock[key] = found
    return state.memo.clock[key]


def corrected(samples: list[Sample], offset_us: int) -> list[Sample]:
    """Samples moved from the observer's clock to the recorder's."""
    if not offset_us:
        return samples
    return [
        s._replace(
            at_us=s.at_us - offset_us, prev_us=None if s.prev_us is None else s.prev_us - offset_us
        )
        for s in samples
    ]


def needs(kind: str, sample: Sample) -> frozenset[str] | None:
    """The endpoint states that must have held for the observer to see `sample` (None: it
    proves nothing, e.g. a timeout: the node may be down)."""
    if kind == "health":
        if sample.value == "200":
            return _READY
        return _NOT_READY if sample.value == "503" and sample.num == 0 else None
    if kind == "nodeport":
        return _SERVING if sample.value == "connected" else None
    return _READY if sample.value == "healthy" else None


def allowed_offsets(
    reaction: tuple[int, int], starts: Sequence[int], watch_us: int
) -> list[tuple[int, int]]:
    """The offsets d (observer minus recorder) under which a reaction seen in (a, b] on the
    observer's clock has a fresh cause: the needed state began (a recorder time in `starts`)
    inside (a - d, b - d + watch_us], after the observer's previous change (kube-proxy and the
    LB act on the EndpointSlices in order). Each is (lo, hi]: lo < d <= hi."""
    a, b = reaction
    return [(a - s, b + watch_us - s) for s in starts]


def best_offset(allowed: Iterable[list[tuple[int, int]]], limit_us: int) -> tuple[int, int, int]:
    """The offset in [-limit_us, 0] that the most reactions allow, the one nearest 0 among
    them; with how many allow it and how many allow 0. Intervals are (lo, hi]."""
    edges: list[tuple[int, int]] = []
    at_zero = 0
    for options in allowed:
        merged = merged_intervals(options)
        at_zero += any(lo < 0 <= hi for lo, hi in merged)
        for lo, hi in merged:
            lo, hi = max(lo, -limit_us - 1), min(hi, 0)
            if lo < hi:
                edges.append((lo, 1))
                edges.append((hi, -1))
    # sweep from 0 downwards: an interval (lo, hi] counts at d when lo < d <= hi, so at one
    # position the intervals ending there (lo) leave before those starting there (hi) enter
    edges.sort(key=lambda e: (-e[0], -e[1]))
    count, best, best_at = 0, at_zero, 0
    for at, delta in edges:
        count -= delta  # entering at hi (delta -1 -> +1), leaving at lo (delta 1 -> -1)
        if delta == -1 and count > best:
            best, best_at = count, at
    return best_at, best, at_zero


def merged_intervals(options: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intervals (either closed or half-open: touching ones join) merged, in order."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(options):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _held(lane: Sequence[Sample], states: frozenset[str]) -> list[tuple[int, int]]:
    """The intervals of recorder time where the endpoints lane was in one of `states`."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for s in lane:
        if s.value in states and start is None:
            start = s.at_us
        elif s.value not in states and start is not None:
            out.append((start, s.at_us))
            start = None
    if start is not None:
        out.append((start, 2**62))
    return out


def _estimate(
    state: FoldState, cluster: str, kinds: tuple[str, ...], settings: DetectSettings
) -> int:
    limit = seconds_us(settings.clock_offset_max_s)
    if limit <= 0:
        return 0
    watch = 0  # onto the recorder's view: a reaction no earlier than the change it saw
    allowed: list[list[tuple[int, int]]] = []
    times: list[int] = []
    for kind in kinds:
        for (svc, node), raw in state.probes[kind].items():
            if svc.cluster == cluster:
                for at, options in _reactions(
                    state, svc, node, kind, sorted_lane(raw), limit, watch
                ):
                    allowed.append(options)
                    if not any(lo < 0 <= hi for lo, hi in options):
                        times.append(at)
    offset, explained, at_zero = best_offset(allowed, limit)
    # a clock behind leaves reactions unexplained all through the recording; an EndpointSlice
    # batch the watch saw late, only those within that delay of each other
    spread = max(times) - min(times) if times else 0
    enough = explained - at_zero >= settings.min_measurements
    return offset if enough and spread > limit else 0


def _reactions(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    kind: str,
    samples: list[Sample],
    limit: int,
    watch: int,
) -> list[tuple[int, list[tuple[int, int]]]]:
    """Each change that needs an endpoint state: its time and the offsets that explain it."""
    lane = state.endpoints.get((svc, node), [])
    if not lane:
        return []
    held_by: dict[frozenset[str], list[tuple[int, int]]] = {}
    out = []
    previous_change: int | None = None
    for prev, s in pairwise(samples):
        if s.value == prev.value:
            continue
        need = needs(kind, s)
        since = previous_change
        previous_change = s.at_us
        if need is None:
            continue
        held = held_by.setdefault(need, _held(lane, need))
        a = since if since is not None else -(2**62)
        # only the held intervals an offset within the limit can reach
        i = bisect_left(held, (a, -(2**62)))
        near = [h[0] for h in held[i:] if h[0] <= s.at_us + watch + limit]
        out.append((s.at_us, allowed_offsets((a, s.at_us), near, watch)))
    return out
