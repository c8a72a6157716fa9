"""Sampled lanes on the recorder's clock: an observer's samples with its estimated clock offset
removed (replay.clocks) and their bounds widened by the clock skew it may still have. Pure.
"""

from __future__ import annotations

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.clocks import clock_offset, corrected, observer_of
from gapwatch.replay.fold import FoldState, Sample, sorted_lane
from gapwatch.replay.lane_order import in_time
from gapwatch.replay.model import ServiceRef


def observed(
    state: FoldState, kind: str, svc: ServiceRef, node: str, settings: DetectSettings
) -> list[Sample]:
    """A sampled lane on the recorder's clock: the observer's estimated offset removed
    (replay.clocks), then widened by the assumed clock skew, or by the offset where that is
    larger (the estimate is only a lower bound: a clock shown that far off is trusted no
    better than that)."""
    samples = in_time(state, kind, svc, node)  # fold.sorted_lane of the lane, carried on
    offset = clock_offset(state, svc.cluster, observer_of(kind), settings)
    skew = max(abs(offset), seconds_us(settings.clock_skew_s))
    return widened(corrected(samples, offset), skew)


def widened(samples: list[Sample], skew_us: int) -> list[Sample]:
    """A sampled lane whose observer's clock may be `skew_us` off (clock_skew_s): each change
    happened somewhere in its bounds widened by that on both sides."""
    if not skew_us:
        return samples
    out = []
    for s in samples:
        prev = s.prev_us if s.prev_us is not None else s.at_us
        out.append(s._replace(at_us=s.at_us + skew_us, prev_us=prev - skew_us))
    return out


def newest_looks(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings
) -> list[Sample]:
    """Per probe lane of `node` (health check, NodePort), its newest look, with the value of
    the lane's last sample, on the recorder's clock at the earliest it can have been. A lane
    keeps its changes only (replay.fold.keep_sample): the looks that repeated its last value
    since (heartbeats; the prober's last look at a node it stopped probing, `look: "last"`,
    docs/observation.md) are known only as the lane's newest time, `FoldState.seen`."""
    out = []
    for kind in ("health", "nodeport"):
        samples = state.probes[kind].get((svc, node))
        newest = state.seen.get((kind, svc.cluster, svc.namespace, svc.name, node))
        if not samples or newest is None:
            continue
        last = sorted_lane(samples)[-1]
        offset = clock_offset(state, svc.cluster, observer_of(kind), settings)
        skew = max(abs(offset), seconds_us(settings.clock_skew_s))
        out.append(last._replace(at_us=newest - offset - skew, prev_us=None))
    return out
