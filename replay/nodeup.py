"""A window that may have begun before its node came up: the Node turning Ready inside the
window's start range names `node-not-ready` beside the class read at its latest instant.

replay.detect.classify reads a window's cause at the start's latest instant (docs/semantics.md,
"Classes"). Where the Node was NotReady, Unknown or deleted at the start's earliest instant and
was seen Ready inside the range, and no look at the node (its health-check node port, its
NodePort) got an answer from that earliest instant until the Ready, the window may have begun
while the node itself was not up (`node-not-ready`) or after it came up (the class read at the
latest instant: kube-proxy not programmed yet, or nothing to forward to). Nothing in the
samples orders the two: the LB change that opened the window lies anywhere between two polls,
the kubelet's Ready anywhere between the node's looks. A node that answered while the Node
said NotReady was up then (its kube-proxy serving, only the kubelet's status behind), so the
Ready is no bound of its cause.

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


def came_up(node_lane: Sequence[Sample], lo_us: int, hi_us: int) -> int | None:
    """When the Node (its lane time-ordered), down at `lo_us` (NotReady, Unknown, deleted),
    was first seen Ready in (`lo_us`, `hi_us`], else None."""
    if value_at(node_lane, lo_us) not in NODE_DOWN:
        return None
    rises = (n.at_us for n in node_lane if lo_us < n.at_us <= hi_us and n.value == "Ready")
    return next(rises, None)


def up_in_start(w: Window, node_lane: Sequence[Sample], looks: Sequence[Sequence[Sample]]) -> bool:
    """Whether window `w`'s start range holds its Node coming up (`came_up`) with no look of
    `looks` (the node's probe lanes) answered from the range's earliest instant until then."""
    lo = w.start_earliest_us
    up = came_up(node_lane, lo, w.start_latest_us)
    return up is not None and not any(answered_in(lane, lo, up) for lane in looks)


def named_down_before_up(
    windows: Sequence[Window], node_lane: Sequence[Sample], looks: Sequence[Sequence[Sample]]
) -> list[Window]:
    """One node's `windows` with `node-not-ready` named in `also` where `up_in_start` (module
    docstring); a window already read `node-not-ready`, or naming it, as it is."""
    if not node_lane:
        return list(windows)
    return [
        replace(w, also=(*w.also, NNR))
        if w.cls != NNR and NNR not in w.also and up_in_start(w, node_lane, looks)
        else w
        for w in windows
    ]
