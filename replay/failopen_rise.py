"""A window read from a local pod's death whose LB routing may have begun with the LB failing
open inside its start range (docs/semantics.md, "Classes on the eighteenth spent set", rule FO).
Pure.

An AWS load balancer routes to every registered target when all of them are unhealthy (it
fails open: DESIGN.md section 6; replay.routed `fail_open`), and otherwise only to the healthy
ones. A node-driven LB stops routing to a node whose health check (kube-proxy's
healthCheckNodePort, 503 without a ready local endpoint) failed `hc_unhealthy_threshold` times
`hc_interval_s` apart (replay.undecided `health_check_drop_floor`: the assumptions, or the
target group's attributes where they were read). So where the node's check had been failing
for that long by the start range's latest instant, and the Service's targets may all have
turned unhealthy inside the range (the fail-open possible there and not sure at its earliest
instant), the LB may have stopped routing to the node before a local pod died and taken it
back by failing open after: the window then opened with the LB's rise (a Service scaled to
zero: the last pod dies, the checks fail everywhere, the LB fails open onto rules kube-proxy
may already have removed). detect names that reading beside the death's. No new number.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import AT_US, FoldState, Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.routed import fail_open
from gapwatch.replay.undecided import health_check_drop_floor


def failing_since(health: Sequence[Sample], at_us: int) -> int | None:
    """The earliest instant the node's health check may have been failing from, without an
    answer of 200 since, up to `at_us` (the run of non-200 looks holding `at_us` began after
    the last look that answered 200: its first sample's `prev_us`); None where the last look
    by `at_us` answered 200 or no look came before it."""
    i = bisect_right(health, at_us, key=AT_US)
    if not i or health[i - 1].value == "200":
        return None
    j = i - 1
    while j > 0 and health[j - 1].value != "200":
        j -= 1
    first = health[j]
    return first.prev_us if first.prev_us is not None else first.at_us


def failed_open_inside(
    state: FoldState,
    svc: ServiceRef,
    health: Sequence[Sample],
    span: tuple[int, int],
    settings: DetectSettings,
) -> bool:
    """The LB may have begun failing open inside the start range `span` (since, at) after it
    could have stopped routing to the node for its failed health checks (module docstring)."""
    since, at = span
    opens = fail_open(state, svc)
    if any(iv.start <= since < iv.end for iv in opens.definite):
        return False  # failing open already when the range began: no rise inside it
    if not any(iv.start <= at < iv.end for iv in opens.possible):
        return False
    failing = failing_since(health, at)
    return failing is not None and failing + health_check_drop_floor(settings) <= at
