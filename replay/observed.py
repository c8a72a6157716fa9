"""Sampled lanes on the recorder's clock: an observer's samples with its estimated clock offset
removed (replay.clocks) and their bounds widened by the clock skew it may still have. Pure.
"""

from __future__ import annotations

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.clocks import clock_offset, corrected, observer_of
from gapwatch.replay.fold import FoldState, Sample, sorted_lane
from gapwatch.replay.model import ServiceRef


def observed(
    state: FoldState, kind: str, svc: ServiceRef, node: str, settings: DetectSettings
) -> list[Sample]:
    """A sampled lane on the recorder's clock: the observer's estimated offset removed
    (replay.clocks), then widened by the assumed clock skew, or by the offset where that is
    larger (the estimate is only a lower bound: a clock shown that far off is trusted no
    better than that)."""
    samples = sorted_lane(state.probes[kind].get((svc, node), []))
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
