"""Classes the samples cannot decide (docs/semantics.md, "Undecided classes").

A window's `cls` is the likelier cause at its start; `Window.also` names the other causes the
samples allow just as well. Two reactions to one EndpointSlice change that fell between the
same two looks are not ordered by the log: where a node's endpoints lost their ready endpoints
and got them back (a replacement pod) with no LB poll in between, the LB may have dropped the
node and taken it back unseen before kube-proxy opened (`registered-before-forwarding`) or kept
routing while kube-proxy closed (`closed-before-deregistered`). The window names both.

Also here: the drop lag a node-driven LB cannot beat when none was measured (its health check
must fail `hc_unhealthy_threshold` times, `hc_interval_s` apart). Pure functions.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import Sample
from gapwatch.replay.model import WindowClass

#: The two readings of an unordered LB and kube-proxy reaction.
UNORDERED: tuple[WindowClass, ...] = ("registered-before-forwarding", "closed-before-deregistered")


def unseen_lb_excursion(
    eps: Sequence[Sample], polls: Sequence[Sample], start_us: int, end_us: int, skew_us: int
) -> bool:
    """Whether the last time the endpoints lane (time-ordered) lost its ready endpoints before
    `end_us` (the change seen up to `skew_us` late) they came back, and no LB poll (`polls`,
    the target lane, time-ordered) looked between the loss and the later of the return and
    the window's start, nor saw the node not routed inside the window: the LB may have
    dropped the node and taken it back unseen while the window opened."""
    last: tuple[int, int] | None = None
    for i in range(1, len(eps)):
        if eps[i].value == "ready" or eps[i - 1].value != "ready":
            continue
        if eps[i].at_us - skew_us >= end_us:
            break
        back = next((j for j in range(i + 1, len(eps)) if eps[j].value == "ready"), None)
        last = None if back is None else (eps[i].at_us, eps[back].at_us)
    if last is None:
        return False
    lost, came = last
    k = bisect_right([p.at_us for p in polls], lost)
    if k < len(polls) and polls[k].at_us < max(came, start_us):
        return False
    # a poll inside the window that saw the node not routed: the drop was seen
    return all(p.value == "healthy" for p in polls[k:] if p.at_us < end_us)


def also_classes(
    cls: WindowClass,
    eps: Sequence[Sample],
    polls: Sequence[Sample],
    start_us: int,
    end_us: int,
    skew_us: int,
) -> tuple[WindowClass, ...]:
    """The other class of an unproven window read as one of the two `UNORDERED` classes, when
    the LB's reaction to the endpoints' excursion inside it is unseen; else ()."""
    if cls not in UNORDERED or not unseen_lb_excursion(eps, polls, start_us, end_us, skew_us):
        return ()
    return tuple(c for c in UNORDERED if c != cls)


def health_check_drop_floor(settings: DetectSettings) -> int:
    """The shortest time (microseconds) a node-driven LB takes to stop routing to a node whose
    health check began failing: `hc_unhealthy_threshold` failed checks, the first possibly at
    once, the others `hc_interval_s` apart (the assumptions, or the target group's attributes
    where they were read: replay.measure)."""
    return seconds_us(max(0, settings.hc_unhealthy_threshold - 1) * settings.hc_interval_s)
