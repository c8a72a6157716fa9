"""The LB poller's clock against CloudTrail's: the same transition seen by both.

A RegisterTargets call puts the target in `initial` (`Elb.RegistrationInProgress`) and a
DeregisterTargets call in `draining` (or removes it): the poller then sees the target's state
change in (previous look, look] on its own clock, and CloudTrail stamps the call's `eventTime`
(whole seconds, AWS's clock: the call lies within +-1 s of it, replay.membership). The change
cannot come before the call, so where the poller saw it *before* the call, by its clock, the
poller's clock is behind: by at least the gap that most pairs allow (`poller_offset`; a
call paired with the wrong transition is outvoted), and replay.lanes widens the poller's
bounds by as much (a lower bound, as replay.clocks' estimate). A
poller whose clock is ahead looks like AWS applying the call later, which the API does not
bound: no offset is estimated that way (`clock_skew_s` widens for it). This is direct
evidence, not the causal guess replay.clocks makes from the EndpointSlices (whose watch delays
mimic a clock behind), so it needs no opt-in. Pairs: each call with the nearest change of the
same kind on its lane within `match_window_s`. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState, Sample, sorted_lane
from gapwatch.replay.membership import EVENT_TIME_RESOLUTION_US, REGISTERED, member_lanes

#: Target states of a registered target (`unused` is left out: registered or not, it says
#: nothing about a call), and those a deregistration leads to.
_IN = frozenset({"initial", "healthy", "unhealthy"})
_OUT = frozenset({"draining", "absent"})


def pair_gaps(
    calls: Iterable[Sample], polled: list[Sample], window_us: int
) -> list[tuple[int, int]]:
    """Per call paired with the poller's change of its kind: the offsets (observer minus
    AWS) it allows, (lo, hi]: the change lies after the call, in (prev, at] on the poller's
    clock, so d <= at - call + resolution (and d > prev - call - resolution when AWS applies
    the call at once, which is not known: lo is informative only)."""
    lane = sorted_lane(polled)
    changes: list[tuple[int, int, bool]] = []
    for before, s in pairwise(lane):
        entered = s.value in _IN and before.value not in _IN
        left = s.value in _OUT and before.value in _IN
        if (entered or left) and s.prev_us is not None:
            changes.append((s.prev_us, s.at_us, entered))
    out: list[tuple[int, int]] = []
    res = EVENT_TIME_RESOLUTION_US
    for call in calls:
        registered = call.value == REGISTERED
        near = [
            (min(abs(prev - call.at_us), abs(at - call.at_us)), prev, at)
            for prev, at, entered in changes
            if entered == registered and prev - window_us <= call.at_us <= at + window_us
        ]
        if near:
            _dist, prev, at = min(near)
            out.append((prev - call.at_us - res, at - call.at_us + res))
    return out


def poller_offset(state: FoldState, cluster: str, settings: DetectSettings) -> int:
    """The poller's clock minus AWS's (CloudTrail's), in microseconds: negative where every
    paired transition shows the poller behind, by the least that explains all of them; else 0."""
    window = seconds_us(settings.match_window_s)
    his: list[int] = []
    for (svc, node), calls in member_lanes(state).items():
        polled = state.probes["target"].get((svc, node))
        if svc.cluster != cluster or not polled:
            continue
        his += [hi for _lo, hi in pair_gaps(calls, polled, window)]
    if not his:
        return 0
    # a call paired with another transition (a trail that misses a call) gives a far bound:
    # the offset is the bound the majority of pairs allows, nearest 0
    his.sort()
    return min(0, his[(len(his) - 1) // 2])
