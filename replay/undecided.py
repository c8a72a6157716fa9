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
    eps: Sequence[Sample], poll_times: Sequence[int], start_us: int, end_us: int, skew_us: int
) -> bool:
    """Whether the endpoints lane (time-ordered) lost its ready endpoints and got them back
    near [`start_us`, `end_us`) (the change seen up to `skew_us` late or early), with no LB
    poll (`poll_times`, sorted) strictly between the loss and the return: an LB that dropped
    the node and took it back in that stretch would not show in the samples."""
    i, n = 1, len(eps)
    while i < n:
        if eps[i].value == "ready" or eps[i - 1].value != "ready":
            i += 1
            continue
        lost = eps[i].at_us
        back = next((j for j in range(i + 1, n) if eps[j].value == "ready"), None)
        if back is None:
            return False
        came = eps[back].at_us
        if lost - skew_us < end_us and came + skew_us > start_us:
            k = bisect_right(poll_times, lost)
            if k >= len(poll_times) or poll_times[k] >= came:
                return True
        i = back + 1
    return False


def also_classes(
    cls: WindowClass,
    eps: Sequence[Sample],
    poll_times: Sequence[int],
    start_us: int,
    end_us: int,
    skew_us: int,
) -> tuple[WindowClass, ...]:
    """The other class of an unproven window read as one of the two `UNORDERED` classes, when
    the LB's reaction to the endpoints' excursion inside it is unseen; else ()."""
    if cls not in UNORDERED or not unseen_lb_excursion(eps, poll_times, start_us, end_us, skew_us):
        return ()
    return tuple(c for c in UNORDERED if c != cls)


def health_check_drop_floor(settings: DetectSettings) -> int:
    """The shortest time (microseconds) a node-driven LB takes to stop routing to a node whose
    health check began failing: `hc_unhealthy_threshold` failed checks, the first possibly at
    once, the others `hc_interval_s` apart (the assumptions, or the target group's attributes
    where they were read: replay.measure)."""
    return seconds_us(max(0, settings.hc_unhealthy_threshold - 1) * settings.hc_interval_s)
