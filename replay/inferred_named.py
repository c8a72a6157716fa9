"""The other classes a window's start range allows where no probe looked at its node
(docs/semantics.md, "No-probe windows of a wrong class with nothing named (session 39, branch
s39-nnr)").

Without a kube-proxy probe on a node F is inferred (replay.inferred_close): kube-proxy
programs a listed endpoint, and removes one that left, at some instant up to its lag bound
after the EndpointSlice change (`proxy_lag_hi`: the `proxy_lag_max_s` assumption, or 2 x the
sync period /configz states), and nothing on the node says when. So a window's start range is
often tens of seconds wide, and replay.detect.classify reads the class at its latest instant
only. Each of these, inside the range, may have opened the window instead, and nothing in a
log without probes orders it against the cause read:

- `rise_unprogrammed` (`registered-before-forwarding`): the LB's rise (R possible from the look
  before, sure at the look after) at an instant the node listed a ready endpoint that
  kube-proxy may not yet have programmed (listed less than its lag bound before);
- `close_unordered` (`closed-before-deregistered`): the node's forwardable endpoints lost (the
  watch skew earlier, kube-proxy's least lag later, through its lag bound later) while a local
  pod was still up: kube-proxy's close may have come before that pod's end;
- `down_unordered` (`node-not-ready`): the Node seen NotReady, Unknown or deleted after being
  Ready, the node's end then lying up to the node controller's grace before
  (`node_grace_s`, `--node-monitor-grace-period`).

A local pod's death inside the range (`pod-gone-before-deregistered`) is not named here: it
follows its endpoint's loss within kube-proxy's lag bound in nearly every graceful termination,
so naming it made a third of the no-probe windows undecided (the docs above, branch
s39-nnr-rule).

Only nodes with no probe lane at all (no health check, no NodePort look): with a probe F is
measured and these orders are read from the looks. The window keeps its class and names the
others. Pure functions of the lanes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from gapwatch.replay.fold import AT_US, Sample
from gapwatch.replay.model import Window, WindowClass
from gapwatch.replay.opener import NODE_DOWN, holds
from gapwatch.replay.signals import Step, Tri
from gapwatch.replay.undecided import CBD, NNR, RBF

__all__ = [
    "InferredLanes",
    "close_unordered",
    "down_unordered",
    "named_inferred",
    "rise_unprogrammed",
]


def _rises(routed: Tri) -> list[tuple[int, int]]:
    """When the LB's routing to the node may have begun: from each stretch R is possible on
    to its first sure instant (the whole stretch where it never is)."""
    out = []
    for p in routed.possible:
        sure = next((d.start for d in routed.definite if p.start <= d.start < p.end), p.end)
        out.append((p.start, sure))
    return out


def _listed_since(eps: Sequence[Sample], at_us: int) -> int | None:
    """Since when the node's endpoints lane has read `ready` without a break at `at_us` (the
    first sample of that run), None where it does not read `ready` then."""
    k = bisect_right(eps, at_us, key=AT_US) - 1  # the lane is in time order
    if k < 0 or eps[k].value != "ready":
        return None
    while k and eps[k - 1].value == "ready":
        k -= 1
    return eps[k].at_us


def rise_unprogrammed(
    routed: Tri, eps: Sequence[Sample], lo_us: int, hi_us: int, lag_hi_us: int
) -> bool:
    """Whether the LB's rise may lie in (`lo_us`, `hi_us`] at an instant the node listed a
    ready endpoint (`eps`) listed less than kube-proxy's lag bound before it: kube-proxy may
    not have programmed it yet (module docstring)."""
    for a, b in _rises(routed):
        x, y = max(a, lo_us), min(b, hi_us)
        if x >= y:
            continue
        cuts = [x] + [s.at_us for s in eps if x < s.at_us <= y]
        for t in cuts:
            since = _listed_since(eps, t)
            if since is not None and since + lag_hi_us > t:
                return True
    return False


def close_unordered(
    forwardable: Sequence[Step],
    alive: Sequence[Step],
    alive_initial: bool,
    lo_us: int,
    hi_us: int,
    lags_us: tuple[int, int, int],
) -> bool:
    """Whether kube-proxy's close of the node's forwardable endpoints (`forwardable`) may lie
    in (`lo_us`, `hi_us`], a local pod still up when they were lost (`alive`): the loss
    (seen up to the watch skew late) plus kube-proxy's least lag, through its lag bound
    (`lags_us`: skew, least lag, lag bound)."""
    skew, lag_lo, lag_hi = lags_us
    for k, step in enumerate(forwardable):
        if step.value or not k or not forwardable[k - 1].value:
            continue
        if not holds(alive, step.latest, alive_initial):
            continue  # no pod up: its death came first (replay.inferred_close)
        if step.earliest - skew + lag_lo < hi_us and step.latest + lag_hi > lo_us:
            return True
    return False


def down_unordered(node_lane: Sequence[Sample], lo_us: int, hi_us: int, grace_us: int) -> bool:
    """Whether the node's end may lie in (`lo_us`, `hi_us`]: its Node seen NotReady, Unknown or
    deleted right after a Ready (or first), the end no more than the node controller's grace
    before that sample."""
    prev = None
    for s in node_lane:
        down = s.value in NODE_DOWN and prev not in NODE_DOWN
        if down and s.at_us - grace_us < hi_us and s.at_us > lo_us:
            return True
        prev = s.value
    return False


class InferredLanes(NamedTuple):
    """What `named_inferred` reads of a node."""

    routed: Tri
    eps: Sequence[Sample]
    forwardable: Sequence[Step]
    #: whether a local pod was up (replay.context.alive_steps), and when the recording began
    alive: Sequence[Step]
    alive_initial: bool
    node_lane: Sequence[Sample]


def named_inferred(
    windows: Sequence[Window],
    lanes: InferredLanes,
    times_us: tuple[int, int, int, int],
) -> list[Window]:
    """One no-probe node's `windows`, each with the classes its start range allows beside the
    one read (module docstring); `times_us`: the watch skew, kube-proxy's least lag and lag
    bound, the node controller's grace."""
    routed, eps, forwardable, alive, alive_initial, node_lane = lanes
    skew, lag_lo, lag_hi, grace = times_us
    out = []
    for w in windows:
        lo, hi = w.start_earliest_us, w.start_latest_us
        found: list[WindowClass] = []
        if rise_unprogrammed(routed, eps, lo, hi, lag_hi):
            found.append(RBF)
        if close_unordered(forwardable, alive, alive_initial, lo, hi, (skew, lag_lo, lag_hi)):
            found.append(CBD)
        if down_unordered(node_lane, lo, hi, grace):
            found.append(NNR)
        new = tuple(c for c in found if c != w.cls and c not in w.also)
        out.append(replace(w, also=(*w.also, *new)) if new else w)
    return out
