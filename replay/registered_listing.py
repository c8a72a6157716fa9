"""A window read at kube-proxy's close, whose start range opens with an endpoint-driven LB taking
the node back: it opened after the ready listing the LB registered the node for (docs/semantics.md,
"Classes on the nineteenth spent set (session 36)", rule RL).

An endpoint-driven CCM registers the nodes that hold the Service's ready endpoints (Alibaba's CCM
rewrites its vServer groups on endpoint changes, TKE binds only nodes with pods: the design notes,
section 6; replay.routed and replay.unprogrammed_rise read it so), not before the endpoint was
listed ready (less the watch skew: the CCM's watch may have delivered the change before the
recorder's). A draining, absent or unused target takes no new connections (AWS's target health
states, the design notes, section 6). So where the LB's last look at or before a window's
earliest start saw the node deregistered, the LB routed to it again only after a registration,
and the first ready listing after the drain (the only one the registration can be for) came
inside the start range, every instant the window can have started at, no earlier than the LB's
return, already had that endpoint listed: kube-proxy had not programmed a listed ready endpoint
(`registered-before-forwarding`, the class as defined), or still forwarded to a pod that was gone;
not a close before any replacement was listed (`closed-before-deregistered`). Pure functions.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import islice

from gapwatch.replay.fold import AT_US, Sample
from gapwatch.replay.signals import value_at

#: target states a poll reports for a node the LB sends no new connections to, registered or not
UNROUTED = frozenset({"draining", "absent", "unused"})


def _drain_began(targets: Sequence[Sample], at_us: int) -> int | None:
    """The first look of the run of unrouted target states holding `at_us` (None: the look at
    or before `at_us` saw the node routed, or there was none)."""
    i = bisect_right(targets, at_us, key=AT_US)
    if not i or targets[i - 1].value not in UNROUTED:
        return None
    while i > 1 and targets[i - 2].value in UNROUTED:
        i -= 1
    return targets[i - 1].at_us


def returned_for_listing(
    eps: Sequence[Sample],
    targets: Sequence[Sample],
    since_us: int,
    at_us: int,
    skew_us: int,
) -> bool:
    """Whether, for an endpoint-driven LB, a window whose start lies in [`since_us`, `at_us`]
    opened no earlier than a ready endpoint's listing (module docstring): the target lane
    (time-ordered) saw the node unrouted at its last look at or before `since_us` and routed
    again at a look by `at_us`; the endpoints lane (time-ordered) listed no ready endpoint from
    the drain's first look to `since_us`, then one inside (`since_us`, the LB's first routed
    look], ready from there through `at_us` plus `skew_us` (a leaving seen that soon may be
    what kube-proxy closed for)."""
    drained = _drain_began(targets, since_us)
    if drained is None:
        return False
    i = bisect_right(targets, since_us, key=AT_US)
    back = next((s.at_us for s in islice(targets, i, None) if s.value not in UNROUTED), None)
    if back is None or back > at_us or value_at(eps, since_us) == "ready":
        return False
    j = bisect_right(eps, drained, key=AT_US)
    k = bisect_right(eps, back, lo=j, key=AT_US)
    listed = None
    for s in islice(eps, j, k):
        if s.value == "ready" and listed is None:
            if s.at_us <= since_us:
                return False  # a ready listing during the drain: the return may be for it
            listed = s.at_us
        elif listed is not None and s.value != "ready":
            return False
    if listed is None:
        return False
    end = bisect_right(eps, at_us + skew_us, lo=k, key=AT_US)
    return all(s.value == "ready" for s in islice(eps, k, end))
