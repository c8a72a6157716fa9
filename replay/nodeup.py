"""A window that may have begun before its node came up: the Node turning Ready inside the
window's start range names `node-not-ready` beside the class read at its latest instant.

replay.detect.classify reads a window's cause at the start's latest instant (docs/semantics.md,
"Classes"). Where the Node was NotReady, Unknown or deleted at the start's earliest instant and
was seen Ready inside the range, the window may have begun while the node itself was not up
(`node-not-ready`) or after it came up (the class read at the latest instant: kube-proxy not
programmed yet, or nothing to forward to). Nothing in the samples orders the two: the LB change
that opened the window lies anywhere between two polls, the kubelet's Ready anywhere between
the node's looks. Two things do bound it:

- a node that answered a look (its health-check node port, its NodePort) between the range's
  earliest instant and the Ready was up then (its kube-proxy serving, only the kubelet's status
  behind): the Ready is no bound of its cause;
- the LB routes only to the targets it holds: a node its looks saw not held (no target, or one
  draining) when the range began was registered inside it, and the CCMs that register a node
  only once it is Ready (the AWS Load Balancer Controller) or for a ready local endpoint
  (endpoint-driven CCMs: a pod runs on a Ready node) did so after the Ready, while one that
  registers a node at its ADDED (below) leaves it `initial` until its health checks decide
  (threshold x interval), which a poll sees unless the polls are further apart. So the node
  must have been held (a target `initial`, `healthy`, `unhealthy` or `unused`) at the range's
  earliest instant; without any look at the LB nothing is named.

When it happens: a node joins NotReady, and an LB routes to it before it is Ready. Upstream's
service controller from 1.27 keeps NotReady nodes in an `externalTrafficPolicy: Local`
Service's node set and registers a new node at its ADDED (KEP-3458,
`StableLoadBalancerNodeSet`: docs/semantics.md, "The CCM's node set by release"); its health
check keeps the new target out, until the LB fails open (every target unhealthy: an NLB or ALB
then routes to all of them) and takes it in with the rest. A node coming back from a crash
whose LB kept it registered is the same shape. No number assumed. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from gapwatch.replay.fold import Sample
from gapwatch.replay.model import Window
from gapwatch.replay.opener import NODE_DOWN, answered_in
from gapwatch.replay.signals import value_at
from gapwatch.replay.undecided import NNR

#: target states of a node the LB holds (registered, not leaving)
HELD = ("initial", "healthy", "unhealthy", "unused")


def came_up(node_lane: Sequence[Sample], lo_us: int, hi_us: int) -> int | None:
    """When the Node (its lane time-ordered), down at `lo_us` (NotReady, Unknown, deleted),
    was first seen Ready in (`lo_us`, `hi_us`], else None."""
    if value_at(node_lane, lo_us) not in NODE_DOWN:
        return None
    rises = (n.at_us for n in node_lane if lo_us < n.at_us <= hi_us and n.value == "Ready")
    return next(rises, None)


def up_in_start(
    w: Window,
    node_lane: Sequence[Sample],
    looks: Sequence[Sequence[Sample]],
    targets: Sequence[Sample],
) -> bool:
    """Whether window `w`'s start range holds its Node coming up (`came_up`), the LB holding
    the node (`targets`: its target lane, time-ordered) at the range's earliest instant and no
    look of `looks` (the node's probe lanes) answered from that instant until the Ready."""
    lo = w.start_earliest_us
    up = came_up(node_lane, lo, w.start_latest_us)
    return (
        up is not None
        and value_at(targets, lo) in HELD
        and not any(answered_in(lane, lo, up) for lane in looks)
    )


def named_down_before_up(
    windows: Sequence[Window],
    node_lane: Sequence[Sample],
    looks: Sequence[Sequence[Sample]],
    targets: Sequence[Sample],
) -> list[Window]:
    """One node's `windows` with `node-not-ready` named in `also` where `up_in_start` (module
    docstring); a window already read `node-not-ready`, or naming it, as it is."""
    if not node_lane or not targets:
        return list(windows)
    return [
        replace(w, also=(*w.also, NNR))
        if w.cls != NNR and NNR not in w.also and up_in_start(w, node_lane, looks, targets)
        else w
        for w in windows
    ]
