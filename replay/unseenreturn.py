"""Where an endpoint-driven LB may have routed to a target every poll saw `draining`.

An endpoint-driven CCM registers a node for its ready endpoints and deregisters it when they
leave (DESIGN.md section 6); a registered target of such a CCM takes traffic at once (no health
check threshold first: replay.routed.registered_unseen). A poll shows a target only as it is at
the poll, so where the node's endpoints were listed ready and left again between two polls that
both saw the target `draining`, the CCM may have registered it (taken it back from draining)
after the listing and deregistered it again after the leaving, both unseen: the LB routed to it
somewhere from the listing (less the watch skew: the CCM's watch may have delivered it before
the recorder's) to the leaving plus the CCM's largest lag. That fits between two polls only
where the registered span, the ready run shortened by at most the CCM's largest lag, is
shorter than the polls' largest gap: a longer run would have been seen. `replay.unseen.hidden`
reads the same excursion the other way round (a deregistration the polls missed). Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise

from gapwatch.replay.fold import Sample
from gapwatch.replay.signals import Iv, Step


def returned_unseen(
    ready: Sequence[Step],
    targets: Sequence[Sample],
    lag_hi_us: int,
    poll_gap_us: int,
    skew_us: int,
) -> list[Iv]:
    """Where the LB may have routed to the node unseen: each run of `ready` (the node's
    endpoints ready: a True step, then a False one) whose polls (`targets`, the target lane:
    its changes only, so no sample inside the run means every poll there saw the one before)
    all saw `draining`, no longer than `poll_gap_us` (the lane's largest gap between looks) plus
    the CCM's largest lag `lag_hi_us`; from the listing less `skew_us` to the leaving plus
    `lag_hi_us`."""
    if not poll_gap_us or not targets:
        return []
    times = [s.at_us for s in targets]
    out = []
    for up, down in pairwise(ready):
        if not up.value or down.value:
            continue
        if down.latest - up.earliest >= poll_gap_us + lag_hi_us:
            continue  # a poll would have seen it registered
        i = bisect_right(times, up.earliest) - 1
        if i < 0 or targets[i].value != "draining":
            continue
        if i + 1 < len(targets) and targets[i + 1].at_us <= down.latest:
            continue  # the lane changed inside the run: its own samples bound it
        out.append(Iv(up.earliest - skew_us, down.latest + lag_hi_us, up.event_id, down.event_id))
    return out
